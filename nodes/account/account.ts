// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import { ThingParkApiClient, ThingParkApiError, TokenSource, defaultTokenUrl } from '../../lib/thingpark-api';
import { classifyNetworkError, failed, passed } from '../../lib/connection/connection-check';
import { incomplete, registerConnectionTest } from '../shared/connection-test';
import { resolveEnv, tlsOptionsFrom, type Node, type NodeAPI, type NodeDef } from '../shared/red';
import { registerAccountAdmin } from './admin-api';

export const DEFAULT_ACCOUNT_URL = 'https://community.thingpark.io';

interface AccountDef extends NodeDef {
  url: string;
  tokenUrl: string;
  tls: string;
}

interface AccountCredentials {
  clientId?: string;
  clientSecret?: string;
}

/** A ThingPark API service account; its client is shared by every `thingpark api` node using it. */
export interface AccountNode extends Node {
  url: string;
  client: ThingParkApiClient;
  /** The secrets this account holds (client secret, current token), to keep out of what it says. */
  secrets(): string[];
}

module.exports = function (RED: NodeAPI) {
  function ThingParkAccountNode(this: AccountNode, config: AccountDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = (node.credentials ?? {}) as AccountCredentials;
    const env = (value: unknown) => resolveEnv(RED, node, value).trim();
    node.url = env(config.url) || DEFAULT_ACCOUNT_URL;
    const clientSecret = env(creds.clientSecret);
    node.client = new ThingParkApiClient({
      url: node.url,
      tokenUrl: env(config.tokenUrl) || undefined,
      clientId: env(creds.clientId),
      clientSecret,
      tls: tlsOptionsFrom(RED, config.tls),
    });
    node.secrets = () => [clientSecret, creds.clientSecret ?? '', node.client.tokens.current ?? ''];
    node.on('close', (_removed: boolean, done: () => void) => {
      node.client.close();
      done();
    });
  }

  RED.nodes.registerType('thingpark-account', ThingParkAccountNode as never, {
    credentials: {
      clientId: { type: 'text' },
      clientSecret: { type: 'password' },
    },
  });

  // "Test connection": one token request with the dialog's values; nothing else is sent.
  registerConnectionTest(RED, {
    type: 'thingpark-account',
    path: '/thingpark/account/test',
    passwords: ['clientSecret'],
    check: async (input) => {
      const clientId = input.credential('clientId');
      const clientSecret = input.credential('clientSecret');
      if (!clientId) return incomplete(RED._('thingpark-account.label.clientId'));
      if (!clientSecret) return incomplete(RED._('thingpark-account.label.clientSecret'));
      const url = input.value('url') || DEFAULT_ACCOUNT_URL;
      try {
        await new TokenSource({
          tokenUrl: input.value('tokenUrl') || defaultTokenUrl(url),
          clientId,
          clientSecret,
          tls: input.tls,
          timeoutMs: 10000,
        }).get();
        return passed();
      } catch (err) {
        if (err instanceof ThingParkApiError)
          return err.status === 401 || err.status === 400
            ? failed('not-authorised', `HTTP ${err.status}`)
            : failed('refused', `HTTP ${err.status}`);
        return classifyNetworkError(err);
      }
    },
  });

  registerAccountAdmin(RED);
};
