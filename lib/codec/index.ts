// lib/codec: runs device codecs (IoT Flow JavaScript drivers, LoRaWAN TS013 codecs) isolated in a
// child process (the codec host), each in a worker thread + bare vm context there, bounded in time and
// memory; reads codecs from inline code, a file or an installed package; shapes results the IoT Flow
// way. Knows nothing of Node-RED.
export { Codec, type CodecOptions } from './codec';
export { CodecError, CodecSandbox, DEFAULT_TIMEOUT_MS, HEAP_LIMIT_MB } from './sandbox';
export { HostedSandbox, HOST_HEAP_MB, codecHostPid } from './hosted-sandbox';
export { loadCodec, type CodecSource, type LoadedCodec } from './load';
export { hexToBytes, bytesToHex, type CodecFormat, type Decoded, type Point } from './format';
export { readExamples, runExamples, type CodecExample, type ExampleOutcome } from './examples';
export { modelsOf, selectDriver, type DriverRule } from './select';
