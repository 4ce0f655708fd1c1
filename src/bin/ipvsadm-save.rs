//! `ipvsadm-save [-n]`: the IPVS table as `ipvsadm -R` input (see
//! `ipvs::cli::wrappers`).

fn main() {
    std::process::exit(ipvs::cli::wrappers::save_main());
}
