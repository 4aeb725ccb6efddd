//! The `mliy sim` scenario (see [`run`]).
