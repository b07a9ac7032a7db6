//! The `invoice-hub` binary: every part of the exchange behind one command, so a region, a
//! receiving region, an operator and an auditor install the same thing.

use std::process::ExitCode;

fn main() -> ExitCode {
    invoice_hub::cli::main()
}
