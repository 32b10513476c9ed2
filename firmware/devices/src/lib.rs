//! Linli device side (being built): embedded-hal 1.0 drivers and the node state machine.
#![no_std]
