/**
 * @tessera/offline-remote: the offline store port over gRPC (`tessera.offline.v1.OfflineStore`).
 * The remote store is the client feature servers and writers use; the service is what
 * `tessera offline-server` runs over the chDB store it owns.
 */
export { RemoteOfflineStore } from './remote-offline-store.js';
export type { RemoteOfflineStoreOptions, RemoteOfflineTlsOptions } from './remote-offline-store.js';
export { createOfflineStoreService, MAX_ENSURE_VIEWS } from './offline-store-service.js';
export type { OfflineStoreServiceOptions } from './offline-store-service.js';
export { toOfflineStatus, fromOfflineStatus } from './status.js';
export { fromWireView, toWireView, fromWireEntitySource } from './views.js';
