//! The clocks and randomness a guest is given (WASI wall and monotonic clocks, secure and
//! insecure random), recorded as the guest reads them and handed back in a replay, so a
//! step that timestamps or generates ids replays identically.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use std::time::Instant;

use wasmtime_wasi::clocks::WallClock;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// What the guest read from its clocks and random sources, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClockRecord {
    /// Wall clock readings as `[seconds, nanoseconds]` since the Unix epoch.
    #[serde(default)]
    pub wall: Vec<(u64, u32)>,
    /// Monotonic clock readings in nanoseconds.
    #[serde(default)]
    pub monotonic: Vec<u64>,
    /// Random bytes drawn (secure and insecure alike), in hex.
    #[serde(default)]
    pub random: String,
    /// The `insecure-seed` the guest was given, in decimal (JSON numbers stop at 64 bits).
    #[serde(default)]
    pub insecure_seed: String,
}

/// The clock tape of one instance: real clocks that write what they return, or the
/// recorded readings read back.
#[derive(Debug)]
pub struct ClockTape {
    replay: bool,
    record: Mutex<ClockRecord>,
    /// Next reading of each stream in a replay: wall, monotonic, random byte.
    cursor: Mutex<(usize, usize, usize)>,
    /// The random bytes: drawn so far (recording), or to give back (replay).
    random_bytes: Mutex<Vec<u8>>,
    /// Whether readings are kept (a run that writes nothing keeps none).
    keep: bool,
    /// Where the guest's monotonic clock starts, as WASI's own does.
    started: Instant,
}

impl ClockTape {
    /// A tape of the host's clocks and a fresh random source, keeping what the guest
    /// reads when `keep` is set.
    pub fn recording(keep: bool) -> Self {
        let seed: u128 = rand_seed();
        Self {
            replay: false,
            keep,
            record: Mutex::new(ClockRecord {
                insecure_seed: seed.to_string(),
                ..ClockRecord::default()
            }),
            cursor: Mutex::new((0, 0, 0)),
            random_bytes: Mutex::new(Vec::new()),
            started: Instant::now(),
        }
    }

    /// A tape that answers from `record`.
    pub fn replaying(record: &ClockRecord) -> Self {
        Self {
            replay: true,
            keep: false,
            random_bytes: Mutex::new(hex_decode(&record.random)),
            record: Mutex::new(record.clone()),
            cursor: Mutex::new((0, 0, 0)),
            started: Instant::now(),
        }
    }

    /// The readings so far.
    pub fn record(&self) -> ClockRecord {
        let mut record = self
            .record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if !self.replay {
            let drawn = self.random_bytes.lock().unwrap_or_else(|e| e.into_inner());
            record.random = hex_encode(&drawn);
        }
        record
    }

    /// The `insecure-seed` to give the guest.
    pub fn insecure_seed(&self) -> u128 {
        self.record().insecure_seed.parse().unwrap_or(0)
    }

    fn wall(&self) -> Duration {
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        if self.replay {
            let mut cursor = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
            // Past the recording's last reading, time stands still.
            let reading = record.wall.get(cursor.0).or(record.wall.last()).copied();
            cursor.0 += 1;
            let (secs, nanos) = reading.unwrap_or((0, 0));
            return Duration::new(secs, nanos);
        }
        let now = WallClock::new().now();
        if self.keep {
            record.wall.push((now.as_secs(), now.subsec_nanos()));
        }
        now
    }

    fn monotonic(&self) -> u64 {
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        if self.replay {
            let mut cursor = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
            let recorded = record.monotonic.len();
            let reading = match record.monotonic.get(cursor.1) {
                Some(n) => *n,
                // Past the recording, each reading advances by a nanosecond: monotonic.
                None => {
                    let past = (cursor.1 - recorded) as u64;
                    record.monotonic.last().copied().unwrap_or(0) + 1 + past
                }
            };
            cursor.1 += 1;
            return reading;
        }
        let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if self.keep {
            record.monotonic.push(now);
        }
        now
    }

    fn fill(&self, dst: &mut [u8]) {
        let mut bytes = self.random_bytes.lock().unwrap_or_else(|e| e.into_inner());
        if self.replay {
            let mut cursor = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
            for byte in dst.iter_mut() {
                // Past the recording, zeros: nothing random may leak into a replay.
                *byte = bytes.get(cursor.2).copied().unwrap_or(0);
                cursor.2 += 1;
            }
            return;
        }
        SysRandom::fill(dst);
        if self.keep {
            bytes.extend_from_slice(dst);
        }
    }
}

/// The host's random source (what WASI would have used).
struct SysRandom;

impl SysRandom {
    fn fill(dst: &mut [u8]) {
        let mut rng = wasmtime_wasi::thread_rng();
        wasmtime_wasi::Rng::fill_bytes(&mut rng, dst);
    }
}

fn rand_seed() -> u128 {
    let mut bytes = [0u8; 16];
    SysRandom::fill(&mut bytes);
    u128::from_le_bytes(bytes)
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 15)] as char);
    }
    text
}

fn hex_decode(text: &str) -> Vec<u8> {
    text.as_bytes()
        .chunks(2)
        .filter_map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
        })
        .collect()
}

/// The wall clock a guest sees.
pub struct TapeWallClock(pub Arc<ClockTape>);

impl HostWallClock for TapeWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        self.0.wall()
    }
}

/// The monotonic clock a guest sees.
pub struct TapeMonotonicClock(pub Arc<ClockTape>);

impl HostMonotonicClock for TapeMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        self.0.monotonic()
    }
}

/// The random source a guest sees (secure and insecure alike).
pub struct TapeRandom(pub Arc<ClockTape>);

impl rand_core::TryRng for TapeRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.0.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.0.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn what_was_read_is_read_back() {
        let tape = Arc::new(ClockTape::recording(true));
        let wall = TapeWallClock(tape.clone()).now();
        let mono = TapeMonotonicClock(tape.clone()).now();
        let mut rng = TapeRandom(tape.clone());
        let mut drawn = [0u8; 12];
        rng.fill_bytes(&mut drawn);
        let record = tape.record();
        assert_eq!(record.random.len(), 24);

        let back = Arc::new(ClockTape::replaying(&record));
        assert_eq!(TapeWallClock(back.clone()).now(), wall);
        assert_eq!(TapeMonotonicClock(back.clone()).now(), mono);
        let mut again = [0u8; 12];
        TapeRandom(back.clone()).fill_bytes(&mut again);
        assert_eq!(again, drawn);
        assert_eq!(back.insecure_seed(), tape.insecure_seed());
        // Past the end: time stands still, the monotonic clock still advances.
        assert_eq!(TapeWallClock(back.clone()).now(), wall);
        assert_eq!(TapeMonotonicClock(back.clone()).now(), mono + 1);
        assert_eq!(TapeMonotonicClock(back.clone()).now(), mono + 2);
        // A tape that keeps nothing (no sink) records nothing.
        let quiet = Arc::new(ClockTape::recording(false));
        TapeWallClock(quiet.clone()).now();
        TapeRandom(quiet.clone()).fill_bytes(&mut drawn);
        assert_eq!(quiet.record().wall.len() + quiet.record().random.len(), 0);
    }
}
