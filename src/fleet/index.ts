/**
 * The fleet module's only public door (issue 10, docs/fleet.md): several Tollgate instances with
 * one configuration (etcd), fleet-wide rate limits (Redis) and one audit view (the PostgreSQL
 * sink). The app composes it; the proxy never sees it (it only gets identity's SharedBuckets).
 */
export type { EtcdKv, WatchEvent } from './etcd.js';
export { EtcdClient } from './etcd.js';
export type { FleetHost, FleetOptions, FleetView, InstanceRecord } from './fleet.js';
export { Fleet } from './fleet.js';
export type { FleetTopClient, TopBy } from './fleet-top.js';
export { PUBLISHED } from './fleet-top.js';
export type { RedisBucketsOptions } from './redis-buckets.js';
export { RedisBuckets } from './redis-buckets.js';
export type { SharedDocument, SharedPart } from './shared-config.js';
export { changedLocalKeys, composeText, LOCAL_KEYS, SHARED_KEYS, sharedPart } from './shared-config.js';
