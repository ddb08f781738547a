import type { AlwaysOnClientOptions, AlwaysOnTlsOptions } from './transport/options';

/** What is queued for ThingWorx: a document for the device's Thing, or a downlink status to write on it. */
export interface ThingWorxBody {
  devEUI: string;
  /** The Thing (prefix + DevEUI). */
  thing: string;
  /** ISO time: the document's Time (or when the status was known). */
  time: string;
  /** The ThingPark document, typed JSON with its root key. */
  document?: Record<string, unknown>;
  /** A `downlinkStatus` value (the result of `downlink out` for a downlink the Thing asked for). */
  status?: Record<string, unknown>;
}

/** Where a downlink came from: the property write on the Thing. */
export interface ThingWorxDownlinkRef {
  thing: string;
  property: string;
}

export interface ThingWorxOptions {
  /** Host name or address of the platform; its port (default 443, 80 with `allowInsecure`). */
  host: string;
  port?: number;
  appKey: string;
  /** Plain `ws://` instead of TLS: only for local test servers. */
  allowInsecure?: boolean;
  tls?: AlwaysOnTlsOptions;
  /** Our ThingTemplate (default `ThingParkDeviceTemplate`). */
  templateName?: string;
  /** Prefix of the Thing names (Thing = prefix + DevEUI). */
  thingNamePrefix?: string;
  /** AlwaysOn sockets, 1–255 (default 1). */
  pipeCount?: number;
  /**
   * Offer permessage-deflate on the sockets, as PTC's SDKs do (default true): about a thirteenth of the
   * bytes on the wire for a typical uplink, about twice the CPU per uplink (bench/README.md, figure 4).
   */
  compression?: boolean;
  /** Create the template (from RemoteThing) when it is missing (default true; the platform may still refuse). */
  allowCreateTemplate?: boolean;
  /** Things asked for per listing page (default 5000). */
  listPageSize?: number;
  /** Delay before provisioning is tried again after a failure (default 30 000 ms). */
  provisioningRetryMs?: number;
  /** Lower-level settings of the AlwaysOn sockets (timeouts, keep-alive, backoff). */
  client?: Partial<AlwaysOnClientOptions>;
}

/** `host[:port]` (a pasted `https://host:port/Thingworx` is accepted too); port undefined when absent. */
export function parseHostPort(value: string): { host: string; port?: number } {
  let text = value.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = text.indexOf('/');
  if (slash >= 0) text = text.slice(0, slash);
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] ? Number(bracketed[2]) : undefined };
  const m = /^([^:]*)(?::(\d+))?$/.exec(text);
  if (!m) return { host: text };
  return { host: m[1], port: m[2] ? Number(m[2]) : undefined };
}
