//! Output: CSV files written atomically ([`csv_out`]) and the comparison table printed after a
//! run ([`table`]). This module sees only result types ([`crate::metrics`]), never the
//! simulator.

pub mod charts;
pub mod csv_out;
pub mod table;
