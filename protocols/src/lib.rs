//! Linli's MQTT contract (v1), shared by the hub and the devices.
//!
//! Topics are `linli/{site}/{device_id}/{channel}`; payloads are small JSON documents. Decoding is
//! strict and total: every input either becomes a typed [`Message`] or a [`Reject`] carrying a
//! [`RejectReason`], and no input makes the decoder panic (see the property tests).
//!
//! The crate does no I/O and builds without `std` (with `alloc`), so firmware can share it.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod alarm;
mod decode;
mod message;
mod topic;

pub use alarm::{Condition, Handling, Place, Severity, StaffAck, StaffNotification};
pub use decode::{Limits, Reject, RejectReason, decode, is_valid_kind};
pub use message::{
    Announce, Event, Location, Message, Status, StatusState, Telemetry, Value, Values,
};
pub use topic::{Channel, DeviceTopic, RESERVED_IDS, TopicError, is_valid_id};
