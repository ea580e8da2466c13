//! SxStore against the fake SX cluster.
