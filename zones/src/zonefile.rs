//! RFC 1035 master files. STUB: being written.

use hickory_proto::rr::Name;

use crate::{Error, Zone};

/// Parses a master file into a zone.
pub fn parse(_text: &str, _origin: Option<&Name>) -> Result<Zone, Error> {
    todo!()
}

/// Writes a zone as a master file.
pub fn write(_zone: &Zone) -> String {
    todo!()
}
