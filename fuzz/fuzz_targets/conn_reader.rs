#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ipvs_fuzz::library::conn_reader(data));
