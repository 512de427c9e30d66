//! RFC 2136 processing against the fuzz fixture (apps.company.com with
//! app.team.prod A+TXT, loop1/loop2 CNAMEs, the apex SOA and two NS).

use std::time::SystemTime;

use hickory_proto::op::{MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, CNAME, NS, TXT};

use super::*;

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

fn zones() -> ZoneSet {
    crate::seed::fuzz_zones()
}

fn message(zone: &str, prereqs: Vec<Record>, updates: Vec<Record>) -> Message {
    let mut msg = Message::new(7, MessageType::Query, OpCode::Update);
    msg.queries.push(Query::query(name(zone), RecordType::SOA));
    msg.answers = prereqs;
    msg.authorities = updates;
    msg
}

fn rr(owner: &str, class: DNSClass, ttl: u32, data: RData) -> Record {
    let mut record = Record::from_rdata(name(owner), ttl, data);
    record.dns_class = class;
    record
}

fn empty(owner: &str, class: DNSClass, rtype: RecordType) -> Record {
    rr(owner, class, 0, RData::Update0(rtype))
}

fn a(last: u8) -> RData {
    RData::A(A::new(192, 0, 2, last))
}

const APP: &str = "app.team.prod.apps.company.com.";

/// Whether the change `msg` plans leaves the fixture as it is.
fn changes_nothing(msg: &Message) -> bool {
    let zones = zones();
    let zone = zones.get(&name("apps.company.com.")).expect("zone");
    let change = plan(&zones, msg, "test").expect("plan");
    let (_, entry) = change.apply(zone, SystemTime::UNIX_EPOCH).expect("a valid change");
    entry.from_serial == entry.to_serial
}

/// Plans `msg` and applies the change to the fixture.
fn run(msg: &Message) -> Result<Zone, ResponseCode> {
    let zones = zones();
    let change = plan(&zones, msg, "test")?;
    let zone = zones.get(&name("apps.company.com.")).expect("zone");
    Ok(change.apply(zone, SystemTime::UNIX_EPOCH).expect("a valid change").0)
}

#[test]
fn zone_section_notauth_and_formerr() {
    let z = zones();
    assert_eq!(plan(&z, &message("example.org.", vec![], vec![]), "t"), Err(ResponseCode::NotAuth));
    assert_eq!(plan(&z, &message("team.prod.apps.company.com.", vec![], vec![]), "t"), Err(ResponseCode::NotAuth));
    let mut two = message("apps.company.com.", vec![], vec![]);
    two.queries.push(Query::query(name("apps.company.com."), RecordType::SOA));
    assert_eq!(plan(&z, &two, "t"), Err(ResponseCode::FormErr));
    let mut not_soa = message("apps.company.com.", vec![], vec![]);
    not_soa.queries[0].set_query_type(RecordType::A);
    assert_eq!(plan(&z, &not_soa, "t"), Err(ResponseCode::FormErr));
}

#[test]
fn prerequisites_give_the_rcodes_of_section_3_2() {
    let z = zones();
    let check = |prereq: Record| plan(&z, &message("apps.company.com.", vec![prereq], vec![]), "t").map(|_| ());
    assert_eq!(check(empty(APP, DNSClass::ANY, RecordType::A)), Ok(()));
    assert_eq!(check(empty(APP, DNSClass::ANY, RecordType::MX)), Err(ResponseCode::NXRRSet));
    assert_eq!(check(empty(APP, DNSClass::ANY, RecordType::ANY)), Ok(()));
    assert_eq!(check(empty("no.apps.company.com.", DNSClass::ANY, RecordType::ANY)), Err(ResponseCode::NXDomain));
    assert_eq!(check(empty(APP, DNSClass::NONE, RecordType::ANY)), Err(ResponseCode::YXDomain));
    assert_eq!(check(empty("no.apps.company.com.", DNSClass::NONE, RecordType::ANY)), Ok(()));
    // An empty non-terminal is not in use.
    assert_eq!(check(empty("team.prod.apps.company.com.", DNSClass::NONE, RecordType::ANY)), Ok(()));
    assert_eq!(check(empty(APP, DNSClass::NONE, RecordType::A)), Err(ResponseCode::YXRRSet));
    assert_eq!(check(empty(APP, DNSClass::NONE, RecordType::MX)), Ok(()));
    assert_eq!(check(rr(APP, DNSClass::IN, 0, a(10))), Ok(()));
    assert_eq!(check(rr(APP, DNSClass::IN, 0, a(11))), Err(ResponseCode::NXRRSet));
    assert_eq!(check(empty("x.example.org.", DNSClass::ANY, RecordType::A)), Err(ResponseCode::NotZone));
    assert_eq!(check(rr(APP, DNSClass::ANY, 0, a(10))), Err(ResponseCode::FormErr));
    assert_eq!(check(rr(APP, DNSClass::ANY, 5, RData::Update0(RecordType::A))), Err(ResponseCode::FormErr));
    assert_eq!(check(empty(APP, DNSClass::CH, RecordType::A)), Err(ResponseCode::FormErr));
    // Value-dependent: the whole RRset must match.
    let both = vec![rr(APP, DNSClass::IN, 0, a(10)), rr(APP, DNSClass::IN, 0, a(11))];
    assert_eq!(plan(&z, &message("apps.company.com.", both, vec![]), "t").map(|_| ()), Err(ResponseCode::NXRRSet));
}

#[test]
fn prescan_refuses_bad_classes_types_and_names_outside() {
    let z = zones();
    let check = |update: Record| plan(&z, &message("apps.company.com.", vec![], vec![update]), "t").map(|_| ());
    assert_eq!(check(rr("x.example.org.", DNSClass::IN, 60, a(1))), Err(ResponseCode::NotZone));
    assert_eq!(check(empty(APP, DNSClass::IN, RecordType::A)), Err(ResponseCode::FormErr));
    assert_eq!(check(empty(APP, DNSClass::ANY, RecordType::AXFR)), Err(ResponseCode::FormErr));
    assert_eq!(check(rr(APP, DNSClass::ANY, 0, a(10))), Err(ResponseCode::FormErr));
    assert_eq!(check(rr(APP, DNSClass::NONE, 60, a(10))), Err(ResponseCode::FormErr));
    assert_eq!(check(empty(APP, DNSClass::NONE, RecordType::ANY)), Err(ResponseCode::FormErr));
    assert_eq!(check(rr(APP, DNSClass::CH, 60, a(10))), Err(ResponseCode::FormErr));
}

#[test]
fn add_delete_rrset_delete_name_and_delete_one_rr() {
    let owner = name(APP);
    let added = run(&message("apps.company.com.", vec![], vec![rr(APP, DNSClass::IN, 120, a(11))])).expect("add");
    let set = added.rrset(&owner, RecordType::A).expect("A");
    assert_eq!((set.rdatas().len(), set.ttl()), (2, 120));
    assert_eq!(added.serial(), zones().get(&name("apps.company.com.")).expect("zone").serial() + 1);
    let one = run(&message("apps.company.com.", vec![], vec![rr(APP, DNSClass::NONE, 0, a(10))])).expect("delete rr");
    assert!(one.rrset(&owner, RecordType::A).is_none());
    assert!(one.rrset(&owner, RecordType::TXT).is_some());
    let rrset = run(&message("apps.company.com.", vec![], vec![empty(APP, DNSClass::ANY, RecordType::TXT)]));
    let rrset = rrset.expect("delete rrset");
    assert!(rrset.rrset(&owner, RecordType::TXT).is_none() && rrset.rrset(&owner, RecordType::A).is_some());
    let all =
        run(&message("apps.company.com.", vec![], vec![empty(APP, DNSClass::ANY, RecordType::ANY)])).expect("all");
    assert!(all.rrsets_at(&owner).is_none_or(|sets| sets.is_empty()));
    // Add then delete in one message: nothing changes.
    let both =
        vec![rr("new.apps.company.com.", DNSClass::IN, 60, a(1)), rr("new.apps.company.com.", DNSClass::NONE, 0, a(1))];
    assert!(changes_nothing(&message("apps.company.com.", vec![], both)));
}

#[test]
fn apex_soa_and_ns_survive_and_soa_adds_need_a_newer_serial() {
    let apex = "apps.company.com.";
    let deletes = vec![
        empty(apex, DNSClass::ANY, RecordType::ANY),
        empty(apex, DNSClass::ANY, RecordType::NS),
        empty(apex, DNSClass::ANY, RecordType::SOA),
    ];
    assert!(changes_nothing(&message(apex, vec![], deletes)));
    let ns = |host: &str| rr(apex, DNSClass::NONE, 0, RData::NS(NS(name(host))));
    let zone = run(&message(apex, vec![], vec![ns("ns1.apps.company.com."), ns("ns2.apps.company.com.")])).expect("ns");
    assert_eq!(zone.rrset(&name(apex), RecordType::NS).expect("NS").rdatas().len(), 1, "the last apex NS stays");
    let soa = |serial: u32| {
        let Some(RData::SOA(mut soa)) = zones().get(&name(apex)).expect("zone").soa().rdatas().first().cloned() else {
            panic!("soa")
        };
        soa.serial = serial;
        rr(apex, DNSClass::IN, 3600, RData::SOA(soa))
    };
    assert!(changes_nothing(&message(apex, vec![], vec![soa(1)])), "not newer");
    assert_eq!(run(&message(apex, vec![], vec![soa(50)])).expect("newer").serial(), 50);
}

#[test]
fn cname_rules_of_section_3_4_2_2() {
    let cname = |target: &str| RData::CNAME(CNAME(name(target)));
    let beside = vec![rr(APP, DNSClass::IN, 60, cname("x.apps.company.com."))];
    assert!(changes_nothing(&message("apps.company.com.", vec![], beside)));
    let data = vec![rr("loop1.apps.company.com.", DNSClass::IN, 60, RData::TXT(TXT::new(vec!["x".into()])))];
    assert!(changes_nothing(&message("apps.company.com.", vec![], data)));
    let replace = vec![rr("loop1.apps.company.com.", DNSClass::IN, 60, cname("app.team.prod.apps.company.com."))];
    let zone = run(&message("apps.company.com.", vec![], replace)).expect("replace");
    let set = zone.rrset(&name("loop1.apps.company.com."), RecordType::CNAME).expect("CNAME");
    assert_eq!(set.rdatas(), [cname("app.team.prod.apps.company.com.")]);
}
