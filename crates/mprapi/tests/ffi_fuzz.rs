//! Hostile calls straight into the exported functions: random server and
//! connection handles, random headers, sizes, levels and resume handles,
//! NULL where a pointer is required. Never a crash; always a Win32 code.

use std::ptr::{null, null_mut};

use mprapi::abi::{MprapiObjectHeader, RasConnectionEx, HANDLE};
use mprapi::exports::*;
use proptest::prelude::*;
use rras_core::Win32Error;
use rras_testkit::InProcessDaemon;

fn known(code: u32) -> bool {
    Win32Error::from_code(code).is_some()
}

#[test]
fn random_arguments_give_codes_not_crashes() {
    let daemon = InProcessDaemon::start(|_| {});
    let wide: Vec<u16> = daemon.addr().encode_utf16().chain([0]).collect();
    let mut server: HANDLE = 0;
    // SAFETY: a NUL-terminated UTF-16 string and a valid out-pointer.
    assert_eq!(unsafe { MprAdminServerConnect(wide.as_ptr(), &mut server) }, 0);

    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 400,
        failure_persistence: None,
        ..Default::default()
    });
    let strategy = (
        prop_oneof![Just(server), any::<usize>(), Just(0usize)],
        (any::<u8>(), any::<u8>(), any::<u16>()),
        any::<u32>(),
        prop_oneof![Just(0u32), any::<u32>()],
        any::<[bool; 4]>(),
        0u32..8,
        any::<usize>(),
    );
    runner
        .run(
            &strategy,
            |(handle, (revision, kind, size), pref, resume0, nulls, level, conn)| {
                let header = MprapiObjectHeader {
                    revision,
                    r#type: kind,
                    size,
                };
                let (mut read, mut total, mut resume) = (0u32, 0u32, resume0);
                let mut buf: *mut RasConnectionEx = null_mut();
                // SAFETY: every pointer is NULL or points to a live local.
                let code = unsafe {
                    MprAdminConnectionEnumEx(
                        handle,
                        if nulls[0] { null() } else { &header },
                        pref,
                        if nulls[1] { null_mut() } else { &mut read },
                        &mut total,
                        if nulls[2] { null_mut() } else { &mut buf },
                        if nulls[3] { null_mut() } else { &mut resume },
                    )
                };
                prop_assert!(known(code), "EnumEx gave {code}");
                if !buf.is_null() {
                    // SAFETY: returned by the library, freed once.
                    prop_assert_eq!(unsafe { MprAdminBufferFree(buf.cast()) }, 0);
                }
                let mut lbuf: *mut u8 = null_mut();
                // SAFETY: as above.
                let code = unsafe {
                    MprAdminConnectionEnum(handle, level, &mut lbuf, pref, &mut read, &mut total, &mut resume)
                };
                prop_assert!(known(code), "Enum gave {code}");
                if !lbuf.is_null() {
                    // SAFETY: returned by the library, freed once.
                    unsafe { MprAdminBufferFree(lbuf.cast()) };
                }
                let mut one: *mut u8 = null_mut();
                // SAFETY: as above.
                let code = unsafe { MprAdminConnectionGetInfo(handle, level, conn, &mut one) };
                prop_assert!(known(code), "GetInfo gave {code}");
                if !one.is_null() {
                    // SAFETY: returned by the library, freed once.
                    unsafe { MprAdminBufferFree(one.cast()) };
                }
                // SAFETY: handles are only looked up.
                let code = unsafe { MprAdminConnectionClearStats(handle, conn) };
                prop_assert!(known(code));
                let mut text: *mut u16 = null_mut();
                // SAFETY: valid out-pointer.
                let code = unsafe { MprAdminGetErrorString(pref, &mut text) };
                prop_assert!(code == 0 || code == Win32Error::MrMidNotFound.code());
                // SAFETY: NULL or returned by the library.
                let freed = unsafe { LocalFree(text.cast()) };
                prop_assert!(freed.is_null());
                Ok(())
            },
        )
        .unwrap();
    // SAFETY: NULL is rejected, not freed.
    let code = unsafe { MprAdminBufferFree(null_mut()) };
    assert_eq!(code, Win32Error::InvalidParameter.code());
    // SAFETY: a handle we own.
    unsafe { MprAdminServerDisconnect(server) };
}
