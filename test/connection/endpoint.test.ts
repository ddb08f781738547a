import { strict as assert } from 'assert';
import { parseEndpoint, splitEndpoint } from '../../lib/connection/endpoint';
import { wmwBrokerUrl, wmwTarget } from '../../lib/wmw';

describe('endpoint parser (MQTT, WSS and HTTPS read the same way)', () => {
  it('host, host:port, [v6]:port and a path, nothing defaulted', () => {
    assert.deepEqual(splitEndpoint(' broker.example.com '), {
      scheme: undefined,
      host: 'broker.example.com',
      port: undefined,
      path: '',
    });
    assert.deepEqual(splitEndpoint('h:1884'), { scheme: undefined, host: 'h', port: 1884, path: '' });
    assert.deepEqual(splitEndpoint('[::1]:8443/Thingworx/WS'), {
      scheme: undefined,
      host: '::1',
      port: 8443,
      path: '/Thingworx/WS',
    });
    assert.deepEqual(splitEndpoint('https://user:pw@twx.example.com/Thingworx?x=1'), {
      scheme: 'https',
      host: 'twx.example.com',
      port: undefined,
      path: '/Thingworx',
    });
  });

  it('MQTT: TLS and 8883 by default, 1883 when plain, the typed port kept', () => {
    assert.equal(parseEndpoint('c8y.example.com', { protocol: 'mqtt' }).url, 'mqtts://c8y.example.com:8883');
    assert.equal(
      parseEndpoint('c8y.example.com', { protocol: 'mqtt', tls: false }).url,
      'mqtt://c8y.example.com:1883',
    );
    assert.equal(
      parseEndpoint('127.0.0.1:1999', { protocol: 'mqtt', tls: false }).url,
      'mqtt://127.0.0.1:1999',
    );
    assert.equal(parseEndpoint('mqtt://h', { protocol: 'mqtt' }).tls, false, 'the scheme typed wins');
  });

  it('WSS: 443 and the default path unless one is typed; a pasted https:// URL means the same server over TLS', () => {
    assert.equal(
      parseEndpoint('iot.example.com', { protocol: 'ws', path: '/mqtt' }).url,
      'wss://iot.example.com:443/mqtt',
    );
    assert.equal(
      parseEndpoint('iot.example.com:8443/ws', { protocol: 'ws', path: '/mqtt' }).url,
      'wss://iot.example.com:8443/ws',
    );
    const twx = parseEndpoint('https://twx.example.com:8443/Thingworx/WS', { protocol: 'ws', tls: false });
    assert.deepEqual(
      [twx.tls, twx.host, twx.port, twx.url],
      [true, 'twx.example.com', 8443, 'wss://twx.example.com:8443/Thingworx/WS'],
    );
  });

  it('HTTPS: an LRC URL in parts, IPv6 bracketed again in the URL', () => {
    const lrc = parseEndpoint('https://api.thingpark.com/thingpark/lrc/rest/downlink', { protocol: 'http' });
    assert.deepEqual(
      [lrc.host, lrc.port, lrc.path],
      ['api.thingpark.com', 443, '/thingpark/lrc/rest/downlink'],
    );
    assert.equal(
      parseEndpoint('http://[fe80::1]:8080/x', { protocol: 'http' }).url,
      'http://[fe80::1]:8080/x',
    );
  });

  it('WMW uses it: a region, or the custom host[:port] with 8883 by default', () => {
    assert.deepEqual(wmwTarget('staging', 'ignored:1'), { host: 'staging.mqtt.wmw-hub.com', port: 8883 });
    assert.deepEqual(wmwTarget('custom', 'wmw.example.com'), { host: 'wmw.example.com', port: 8883 });
    assert.deepEqual(wmwTarget('custom', '[::1]:1884'), { host: '::1', port: 1884 });
    assert.equal(wmwBrokerUrl('::1', 1884, true), 'mqtt://[::1]:1884');
    assert.equal(wmwBrokerUrl('wmw.example.com'), 'mqtts://wmw.example.com:8883');
  });
});
