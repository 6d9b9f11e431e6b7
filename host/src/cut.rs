//! [`CUT_MARK`]: the one mark of text cut to a bound, shared by every cutter and by the
//! redactor that must recognise it. A leaf: it imports nothing of the crate.
//!
//! The cutters live with what they bound (a worker's line in `workers`, a log line or a
//! host call's text in `plugin`, a message in `report::sanitize`); the redactor
//! (`report::redact`) masks any start or end of a secret next to the mark. One definition
//! keeps them agreeing: a different mark in one cutter would let half a secret through.

/// The character every cutter of guest or worker text puts where it cut (`…`): a log line
/// cut at its length limit, output cut at its budget, a worker line split at its limit.
pub const CUT_MARK: char = '…';
