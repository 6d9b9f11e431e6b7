//! How long the names a run carries may be. The manifest check refuses longer ones, the
//! recording reader refuses them too, and the report collector sizes its caps from them:
//! one definition, so the three cannot drift apart.

/// Longest step name, in bytes: names are keys of the saved state and columns of the
/// summary table.
pub const MAX_STEP_NAME_BYTES: usize = 256;
/// Longest worker name a step may name, in bytes (workers.json keys are short).
pub const MAX_WORKER_NAME_BYTES: usize = 256;
