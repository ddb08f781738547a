/**
 * One reading of the endpoints users type (`host`, `host:port`, `[v6]:port`, `host:port/path`, or a
 * pasted URL such as `https://host:port/path`), for MQTT, WebSocket (WSS) and HTTP(S) alike: the
 * protocol is the connection's, TLS comes from the pasted scheme or the connection's default, the
 * port and path from the text or the protocol's defaults.
 */

export type EndpointProtocol = 'mqtt' | 'ws' | 'http';

export interface Endpoint {
  protocol: EndpointProtocol;
  tls: boolean;
  /** Host name or address; an IPv6 address without its brackets. Empty when none was given. */
  host: string;
  port: number;
  /** '' or a path starting with '/'. */
  path: string;
  /** `mqtts://host:8883`, `wss://host:443/path`, `https://[::1]:8443/x`… */
  url: string;
}

export interface EndpointDefaults {
  protocol: EndpointProtocol;
  /** TLS unless the text says otherwise (a scheme such as `mqtt://` or `http://`); default true. */
  tls?: boolean;
  /** Default port; else the protocol's standard one (1883/8883, 80/443). */
  port?: number;
  /** Default path when the text has none (e.g. `/mqtt` for MQTT over WebSocket). */
  path?: string;
}

/** The schemes a pasted URL may carry, and whether each means TLS. */
const SCHEME_TLS: Record<string, boolean> = {
  mqtt: false,
  tcp: false,
  ws: false,
  http: false,
  mqtts: true,
  ssl: true,
  tls: true,
  wss: true,
  https: true,
};

const STANDARD_PORT: Record<EndpointProtocol, [plain: number, tls: number]> = {
  mqtt: [1883, 8883],
  ws: [80, 443],
  http: [80, 443],
};

/** `host[:port][/path]` or `scheme://host[:port][/path]` in parts, nothing defaulted. */
export function splitEndpoint(value: string): { scheme?: string; host: string; port?: number; path: string } {
  let text = value.trim();
  let scheme: string | undefined;
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (schemeMatch) {
    scheme = schemeMatch[1].toLowerCase();
    text = text.slice(schemeMatch[0].length);
  }
  // user:password@ of a pasted URL is never part of the endpoint.
  const at = text.lastIndexOf('@', text.indexOf('/') < 0 ? text.length : text.indexOf('/'));
  if (at >= 0) text = text.slice(at + 1);
  const slash = text.indexOf('/');
  const path = slash >= 0 ? text.slice(slash).replace(/[?#].*$/, '') : '';
  const authority = slash >= 0 ? text.slice(0, slash) : text;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority);
  if (bracketed) return { scheme, host: bracketed[1], port: portOf(bracketed[2]), path };
  const m = /^([^:]*)(?::(\d+))?$/.exec(authority);
  if (!m) return { scheme, host: authority, path };
  return { scheme, host: m[1], port: portOf(m[2]), path };
}

function portOf(text: string | undefined): number | undefined {
  return text ? Number(text) : undefined;
}

/** Reads what a user typed as the endpoint of a connection of `defaults.protocol`. */
export function parseEndpoint(value: string, defaults: EndpointDefaults): Endpoint {
  const parts = splitEndpoint(value);
  const schemeTls = parts.scheme !== undefined ? SCHEME_TLS[parts.scheme] : undefined;
  const tls = schemeTls ?? defaults.tls ?? true;
  const protocol = defaults.protocol;
  const port = parts.port ?? defaults.port ?? STANDARD_PORT[protocol][tls ? 1 : 0];
  const path = parts.path && parts.path !== '/' ? parts.path : (defaults.path ?? '');
  return {
    protocol,
    tls,
    host: parts.host,
    port,
    path,
    url: endpointUrl({ protocol, tls, host: parts.host, port, path }),
  };
}

/** The URL of an endpoint, as our MQTT client, ws and http(s) take it. */
export function endpointUrl(e: Pick<Endpoint, 'protocol' | 'tls' | 'host' | 'port' | 'path'>): string {
  const scheme = e.tls ? `${e.protocol}s` : e.protocol;
  const host = e.host.includes(':') ? `[${e.host}]` : e.host;
  return `${scheme}://${host}:${e.port}${e.path}`;
}
