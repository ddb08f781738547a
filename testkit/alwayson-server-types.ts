import type * as http from 'http';
import type { Socket } from 'net';
import type WebSocket from 'ws';
import type { AlwaysOnMessage, InfoTable, MultipartReassembler, ResponseMessage } from '../lib/thingworx';
import type { EntityStoreOptions } from './alwayson-services';

export interface AlwaysOnServerOptions extends EntityStoreOptions {
  appKey: string;
  /** PEM certificate and key: serve `wss://` instead of `ws://`. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** AUTH must arrive within this after the upgrade (default 15 000 ms, as ThingWorx). */
  authTimeoutMs?: number;
  /** Allow CreateThingTemplate / AddPropertyDefinition / CreateThing (default true; false → 0x83). */
  allowCreate?: boolean;
  /** Refuse a wrong `appKey` upgrade header with HTTP 401 (default true). */
  checkUpgradeKey?: boolean;
  /** Largest frame accepted without a violation and used for our own chunks (default 8192). */
  chunkSize?: number;
  /** QueryImplementingThingsOptimized `maxItems` when absent (default 500). */
  defaultMaxItems?: number;
  /** Largest page QueryImplementingThingsOptimized returns, whatever `maxItems` says (default unlimited). */
  maxItemsCap?: number;
  /** Accept permessage-deflate when offered (default true). */
  compression?: boolean;
  /** The "Last in wins" setting (default true; see `lastInWins`). */
  lastInWins?: boolean;
  /** Most log entries kept (default 300 000; older ones are dropped). */
  logLimit?: number;
}

export interface LogEntry {
  conn: number;
  at: number;
  msg: AlwaysOnMessage;
  /** Frames the message arrived in (1 unless multipart). */
  frames: number;
}

export type InterceptResult = { code: number; reason?: string; content?: InfoTable } | 'ignore' | undefined;

export interface OutPending {
  resolve: (r: ResponseMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface Conn {
  id: number;
  ws: WebSocket;
  headers: http.IncomingHttpHeaders;
  socket: Socket;
  sessionId?: number;
  authed: boolean;
  /** The application key the session was opened with. */
  key?: string;
  closed: boolean;
  bound: Set<string>;
  reassembler: MultipartReassembler;
  chunkCounts: Map<number, number>;
  authTimer?: NodeJS.Timeout;
  inFlight: Set<number>;
  pendingOut: Map<number, OutPending>;
  /** Answers owed to raw frames (sendRaw), per request id (a frame sent twice is owed two), with its session. */
  rawAnswers: Map<number, Array<{ sessionId: number; pending: OutPending }>>;
}
