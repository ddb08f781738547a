/**
 * Containers for the paths every message takes (knows nothing of Node-RED or of any platform).
 */
export { SlotMap, slotHash, type SlotKey } from './slot-map';
