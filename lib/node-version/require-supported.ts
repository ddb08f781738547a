// Loaded first by every node file: on a Node.js older than the package's floor, loading the node fails
// with one line naming the minimum version, before any module this Node.js lacks (node:sqlite) is asked for.
import { unsupportedNodeMessage } from './index';

const message = unsupportedNodeMessage();
if (message) throw new Error(message);
