//! Fuzzes the configuration file: any text gives a configuration or an error that names
//! the file, never a panic; a `--operations GROUP=MODE` setting (the first line) is applied
//! to what loaded, or refused with a message.
#![no_main]

use libfuzzer_sys::fuzz_target;

use privmon::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_yaml("fuzz.yaml", text) {
        Ok(mut config) => {
            let setting = text.lines().next().unwrap_or_default();
            if let Err(message) = config.operations.apply(setting) {
                assert!(!message.is_empty());
            }
            let _ = config.operations.mode("mounts");
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.yaml"), "{e}"),
    }
});
