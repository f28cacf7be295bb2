//! Fuzzes the decoder of ring-buffer records: any bytes (a truncated record, an unknown
//! kind, lengths that point past their buffers) give a record or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

use privmon::event::record;

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = record::decode(data) {
        // Whatever decoded can be looked at whole.
        let _ = format!("{rec:?}");
    }
});
