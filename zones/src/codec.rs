//! Binary encoding of records for storage (owned by the store author).
