//! Vidur's cached prediction tables (being written).
