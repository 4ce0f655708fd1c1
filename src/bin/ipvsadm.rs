//! `ipvsadm`: a drop-in replacement for ipvsadm 1.31 (see `ipvs::cli`).

fn main() {
    std::process::exit(ipvs::cli::main());
}
