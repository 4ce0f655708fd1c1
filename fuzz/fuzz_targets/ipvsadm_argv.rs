#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ipvs_fuzz::tools::argv(data));
