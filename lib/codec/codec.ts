import {
  hexToBytes,
  iotflowPoints,
  resolveFormat,
  shapeEncoded,
  shapeTs013,
  type CodecFormat,
  type Decoded,
  type PointContract,
} from './format';
import { HostedSandbox } from './hosted-sandbox';
import { CodecError } from './sandbox';

export interface CodecOptions {
  format: CodecFormat;
  timeoutMs: number;
  contract?: Record<string, PointContract>;
  iotflow?: boolean;
}

/** A codec of either format behind one face: bytes in, decoded payload and points out, and back. */
export class Codec {
  private readonly sandbox: HostedSandbox;

  constructor(
    code: string,
    private readonly options: CodecOptions,
  ) {
    this.sandbox = new HostedSandbox(code, options.timeoutMs);
  }

  functions(): Promise<string[]> {
    return this.sandbox.functions();
  }

  async decodeUplink(
    payloadHex: string,
    fPort: number | undefined,
    time: string | undefined,
  ): Promise<Decoded> {
    const functions = await this.sandbox.functions();
    const bytes = hexToBytes(payloadHex);
    const result = await this.sandbox.call('decodeUplink', { bytes, fPort, time, recvTime: time });
    const format = resolveFormat(this.options.format, functions, !!this.options.iotflow, result);
    if (format === 'ts013') {
      const shaped = shapeTs013(result);
      if (shaped.errors.length) throw new CodecError(shaped.errors.join('; '));
      return shaped;
    }
    const extracted = functions.includes('extractPoints')
      ? await this.sandbox.call('extractPoints', { message: result, time })
      : undefined;
    return {
      payload: result,
      points: iotflowPoints(extracted, this.options.contract ?? {}),
      warnings: [],
      errors: [],
    };
  }

  async encodeDownlink(value: unknown, fPort: number | undefined) {
    const functions = await this.sandbox.functions();
    const ts013 =
      this.options.format === 'ts013' ||
      (this.options.format === 'auto' && !this.options.iotflow && !functions.includes('extractPoints'));
    const result = await this.sandbox.call(
      'encodeDownlink',
      ts013 ? { data: value, fPort } : { message: value, fPort },
    );
    const shaped = shapeEncoded(result, fPort);
    if (shaped.errors.length) throw new CodecError(shaped.errors.join('; '));
    return shaped;
  }

  close(): Promise<void> {
    return this.sandbox.close();
  }
}
