/**
 * When ThingPark may be told a document was received: once every copy the flow made of it is safe
 * (stored by the out nodes it reached). Knows nothing of Node-RED: nodes/shared/handover-hooks.ts
 * feeds it from Node-RED's messaging hooks.
 */
export { PendingDocuments, type Outcome, type PendingStats } from './pending-documents';
