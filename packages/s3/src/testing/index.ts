/**
 * @module @kith/s3/testing
 * A real s3rver process and a fault-injecting proxy, for this package's
 * tests and for the shared sync scenarios.
 */
export { startS3rver, useS3rverCredentials, type CorsConfiguration, type S3rverProcess } from './s3rver-process.js';
export { startFaultProxy, randomFaults, NETWORK_FAULTS, type Fault, type FaultPlan, type FaultProxy, type FaultProxyOptions } from './fault-proxy.js';
