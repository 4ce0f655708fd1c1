//! `ipvsadm-restore`: clear the IPVS table and load rules from stdin (see
//! `ipvs::cli::wrappers`).

fn main() {
    std::process::exit(ipvs::cli::wrappers::restore_main());
}
