//! `#[repr(C)]` mirrors of the Windows x64 structures, field names as in
//! `mprapi.h` so they read side by side with include/mprapi.h. Every size,
//! alignment and offset is asserted at compile time (layout_asserts.rs,
//! generated from the spec table). Padding is spelled out as `_padN`
//! fields so every byte handed to C is defined (zero), and two structures
//! with equal fields compare equal with memcmp.

#![allow(
    non_snake_case,
    non_camel_case_types,
    missing_docs,
    missing_debug_implementations,
    clippy::upper_case_acronyms
)]

use std::mem::{align_of, offset_of, size_of};

/// WCHAR: one UTF-16 code unit.
pub type WCHAR = u16;
/// HANDLE: pointer-sized, never dereferenced by us (an id in disguise).
pub type HANDLE = usize;

pub const UNLEN: usize = 256;
pub const DNLEN: usize = 15;
pub const NETBIOS_NAME_LEN: usize = 16;
pub const MAX_INTERFACE_NAME_LEN: usize = 256;
pub const IPADDRESSLEN: usize = 15;
pub const IPXADDRESSLEN: usize = 22;
pub const ATADDRESSLEN: usize = 32;
pub const MAXIPADRESSLEN: usize = 64;
pub const MAX_PORT_NAME: usize = 16;
pub const MAX_MEDIA_NAME: usize = 16;
pub const MAX_DEVICE_NAME: usize = 128;
pub const MAX_DEVICETYPE_NAME: usize = 16;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MprapiObjectHeader {
    pub revision: u8,
    pub r#type: u8,
    pub size: u16,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guid {
    pub Data1: u32,
    pub Data2: u16,
    pub Data3: u16,
    pub Data4: [u8; 8],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filetime {
    pub dwLowDateTime: u32,
    pub dwHighDateTime: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct In6Addr {
    pub Word: [u16; 8],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PppProjectionInfo {
    pub dwIPv4NegotiationError: u32,
    pub wszAddress: [WCHAR; IPADDRESSLEN + 1],
    pub wszRemoteAddress: [WCHAR; IPADDRESSLEN + 1],
    pub dwIPv4Options: u32,
    pub dwIPv4RemoteOptions: u32,
    pub _pad0: [u8; 4],
    pub IPv4SubInterfaceIndex: u64,
    pub dwIPv6NegotiationError: u32,
    pub bInterfaceIdentifier: [u8; 8],
    pub bRemoteInterfaceIdentifier: [u8; 8],
    pub bPrefix: [u8; 8],
    pub dwPrefixLength: u32,
    pub IPv6SubInterfaceIndex: u64,
    pub dwLcpError: u32,
    pub dwAuthenticationProtocol: u32,
    pub dwAuthenticationData: u32,
    pub dwRemoteAuthenticationProtocol: u32,
    pub dwRemoteAuthenticationData: u32,
    pub dwLcpTerminateReason: u32,
    pub dwLcpRemoteTerminateReason: u32,
    pub dwLcpOptions: u32,
    pub dwLcpRemoteOptions: u32,
    pub dwEapTypeId: u32,
    pub dwRemoteEapTypeId: u32,
    pub dwCcpError: u32,
    pub dwCompressionAlgorithm: u32,
    pub dwCcpOptions: u32,
    pub dwRemoteCompressionAlgorithm: u32,
    pub dwCcpRemoteOptions: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PppProjectionInfo2 {
    pub dwIPv4NegotiationError: u32,
    pub wszAddress: [WCHAR; IPADDRESSLEN + 1],
    pub wszRemoteAddress: [WCHAR; IPADDRESSLEN + 1],
    pub dwIPv4Options: u32,
    pub dwIPv4RemoteOptions: u32,
    pub _pad0: [u8; 4],
    pub IPv4SubInterfaceIndex: u64,
    pub dwIPv6NegotiationError: u32,
    pub bInterfaceIdentifier: [u8; 8],
    pub bRemoteInterfaceIdentifier: [u8; 8],
    pub bPrefix: [u8; 8],
    pub dwPrefixLength: u32,
    pub IPv6SubInterfaceIndex: u64,
    pub dwLcpError: u32,
    pub dwAuthenticationProtocol: u32,
    pub dwAuthenticationData: u32,
    pub dwRemoteAuthenticationProtocol: u32,
    pub dwRemoteAuthenticationData: u32,
    pub dwLcpTerminateReason: u32,
    pub dwLcpRemoteTerminateReason: u32,
    pub dwLcpOptions: u32,
    pub dwLcpRemoteOptions: u32,
    pub dwEapTypeId: u32,
    pub dwEmbeddedEAPTypeId: u32,
    pub dwRemoteEapTypeId: u32,
    pub dwCcpError: u32,
    pub dwCompressionAlgorithm: u32,
    pub dwCcpOptions: u32,
    pub dwRemoteCompressionAlgorithm: u32,
    pub dwCcpRemoteOptions: u32,
    pub _pad1: [u8; 4],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Ikev2ProjectionInfo {
    pub dwIPv4NegotiationError: u32,
    pub wszAddress: [WCHAR; IPADDRESSLEN + 1],
    pub wszRemoteAddress: [WCHAR; IPADDRESSLEN + 1],
    pub _pad0: [u8; 4],
    pub IPv4SubInterfaceIndex: u64,
    pub dwIPv6NegotiationError: u32,
    pub bInterfaceIdentifier: [u8; 8],
    pub bRemoteInterfaceIdentifier: [u8; 8],
    pub bPrefix: [u8; 8],
    pub dwPrefixLength: u32,
    pub IPv6SubInterfaceIndex: u64,
    pub dwOptions: u32,
    pub dwAuthenticationProtocol: u32,
    pub dwEapTypeId: u32,
    pub dwCompressionAlgorithm: u32,
    pub dwEncryptionMethod: u32,
    pub _pad1: [u8; 4],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Ikev2ProjectionInfo2 {
    pub dwIPv4NegotiationError: u32,
    pub wszAddress: [WCHAR; IPADDRESSLEN + 1],
    pub wszRemoteAddress: [WCHAR; IPADDRESSLEN + 1],
    pub _pad0: [u8; 4],
    pub IPv4SubInterfaceIndex: u64,
    pub dwIPv6NegotiationError: u32,
    pub bInterfaceIdentifier: [u8; 8],
    pub bRemoteInterfaceIdentifier: [u8; 8],
    pub bPrefix: [u8; 8],
    pub dwPrefixLength: u32,
    pub IPv6SubInterfaceIndex: u64,
    pub dwOptions: u32,
    pub dwAuthenticationProtocol: u32,
    pub dwEapTypeId: u32,
    pub dwEmbeddedEAPTypeId: u32,
    pub dwCompressionAlgorithm: u32,
    pub dwEncryptionMethod: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union ProjectionUnion {
    pub PppProjectionInfo: PppProjectionInfo,
    pub Ikev2ProjectionInfo: Ikev2ProjectionInfo,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ProjectionInfo {
    pub projectionInfoType: u8,
    pub _pad0: [u8; 7],
    pub u: ProjectionUnion,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union ProjectionUnion2 {
    pub PppProjectionInfo: PppProjectionInfo2,
    pub Ikev2ProjectionInfo: Ikev2ProjectionInfo2,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ProjectionInfo2 {
    pub projectionInfoType: u8,
    pub _pad0: [u8; 7],
    pub u: ProjectionUnion2,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RasConnectionEx {
    pub Header: MprapiObjectHeader,
    pub dwConnectDuration: u32,
    pub dwInterfaceType: u32,
    pub dwConnectionFlags: u32,
    pub wszInterfaceName: [WCHAR; MAX_INTERFACE_NAME_LEN + 1],
    pub wszUserName: [WCHAR; UNLEN + 1],
    pub wszLogonDomain: [WCHAR; DNLEN + 1],
    pub wszRemoteComputer: [WCHAR; NETBIOS_NAME_LEN + 1],
    pub _pad0: [u8; 2],
    pub guid: Guid,
    pub rasQuarState: u32,
    pub probationTime: Filetime,
    pub dwBytesXmited: u32,
    pub dwBytesRcved: u32,
    pub dwFramesXmited: u32,
    pub dwFramesRcved: u32,
    pub dwCrcErr: u32,
    pub dwTimeoutErr: u32,
    pub dwAlignmentErr: u32,
    pub dwHardwareOverrunErr: u32,
    pub dwFramingErr: u32,
    pub dwBufferOverrunErr: u32,
    pub dwCompressionRatioIn: u32,
    pub dwCompressionRatioOut: u32,
    pub dwNumSwitchOvers: u32,
    pub wszRemoteEndpointAddress: [WCHAR; MAXIPADRESSLEN + 1],
    pub wszLocalEndpointAddress: [WCHAR; MAXIPADRESSLEN + 1],
    pub _pad1: [u8; 4],
    pub ProjectionInfo: ProjectionInfo,
    pub hConnection: HANDLE,
    pub hInterface: HANDLE,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RasConnection4 {
    pub dwConnectDuration: u32,
    pub dwInterfaceType: u32,
    pub dwConnectionFlags: u32,
    pub wszInterfaceName: [WCHAR; MAX_INTERFACE_NAME_LEN + 1],
    pub wszUserName: [WCHAR; UNLEN + 1],
    pub wszLogonDomain: [WCHAR; DNLEN + 1],
    pub wszRemoteComputer: [WCHAR; NETBIOS_NAME_LEN + 1],
    pub _pad0: [u8; 2],
    pub guid: Guid,
    pub rasQuarState: u32,
    pub probationTime: Filetime,
    pub connectionStartTime: Filetime,
    pub ullBytesXmited: u64,
    pub ullBytesRcved: u64,
    pub dwFramesXmited: u32,
    pub dwFramesRcved: u32,
    pub dwCrcErr: u32,
    pub dwTimeoutErr: u32,
    pub dwAlignmentErr: u32,
    pub dwHardwareOverrunErr: u32,
    pub dwFramingErr: u32,
    pub dwBufferOverrunErr: u32,
    pub dwCompressionRatioIn: u32,
    pub dwCompressionRatioOut: u32,
    pub dwNumSwitchOvers: u32,
    pub wszRemoteEndpointAddress: [WCHAR; MAXIPADRESSLEN + 1],
    pub wszLocalEndpointAddress: [WCHAR; MAXIPADRESSLEN + 1],
    pub ProjectionInfo: ProjectionInfo2,
    pub hConnection: HANDLE,
    pub hInterface: HANDLE,
    pub dwDeviceType: u32,
    pub _pad1: [u8; 4],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RasConnection0 {
    pub hConnection: HANDLE,
    pub hInterface: HANDLE,
    pub dwConnectDuration: u32,
    pub dwInterfaceType: u32,
    pub dwConnectionFlags: u32,
    pub wszInterfaceName: [WCHAR; MAX_INTERFACE_NAME_LEN + 1],
    pub wszUserName: [WCHAR; UNLEN + 1],
    pub wszLogonDomain: [WCHAR; DNLEN + 1],
    pub wszRemoteComputer: [WCHAR; NETBIOS_NAME_LEN + 1],
    pub _pad0: [u8; 6],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PppNbfcpInfo {
    pub dwError: u32,
    pub wszWksta: [WCHAR; NETBIOS_NAME_LEN + 1],
    pub _pad0: [u8; 2],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PppIpcpInfo {
    pub dwError: u32,
    pub wszAddress: [WCHAR; IPADDRESSLEN + 1],
    pub wszRemoteAddress: [WCHAR; IPADDRESSLEN + 1],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PppIpxcpInfo {
    pub dwError: u32,
    pub wszAddress: [WCHAR; IPXADDRESSLEN + 1],
    pub _pad0: [u8; 2],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PppAtcpInfo {
    pub dwError: u32,
    pub wszAddress: [WCHAR; ATADDRESSLEN + 1],
    pub _pad0: [u8; 2],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PppInfo {
    pub nbf: PppNbfcpInfo,
    pub ip: PppIpcpInfo,
    pub ipx: PppIpxcpInfo,
    pub at: PppAtcpInfo,
}

/// The 12 DWORD statistics, in Windows order (RAS_CONNECTION_1, RAS_PORT_1).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Statistics {
    pub dwBytesXmited: u32,
    pub dwBytesRcved: u32,
    pub dwFramesXmited: u32,
    pub dwFramesRcved: u32,
    pub dwCrcErr: u32,
    pub dwTimeoutErr: u32,
    pub dwAlignmentErr: u32,
    pub dwHardwareOverrunErr: u32,
    pub dwFramingErr: u32,
    pub dwBufferOverrunErr: u32,
    pub dwCompressionRatioIn: u32,
    pub dwCompressionRatioOut: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RasConnection1 {
    pub hConnection: HANDLE,
    pub hInterface: HANDLE,
    pub PppInfo: PppInfo,
    pub dwBytesXmited: u32,
    pub dwBytesRcved: u32,
    pub dwFramesXmited: u32,
    pub dwFramesRcved: u32,
    pub dwCrcErr: u32,
    pub dwTimeoutErr: u32,
    pub dwAlignmentErr: u32,
    pub dwHardwareOverrunErr: u32,
    pub dwFramingErr: u32,
    pub dwBufferOverrunErr: u32,
    pub dwCompressionRatioIn: u32,
    pub dwCompressionRatioOut: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PppIpcpInfo2 {
    pub dwError: u32,
    pub wszAddress: [WCHAR; IPADDRESSLEN + 1],
    pub wszRemoteAddress: [WCHAR; IPADDRESSLEN + 1],
    pub dwOptions: u32,
    pub dwRemoteOptions: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct PppCcpInfo {
    pub dwError: u32,
    pub dwCompressionAlgorithm: u32,
    pub dwOptions: u32,
    pub dwRemoteCompressionAlgorithm: u32,
    pub dwRemoteOptions: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct PppLcpInfo {
    pub dwError: u32,
    pub dwAuthenticationProtocol: u32,
    pub dwAuthenticationData: u32,
    pub dwRemoteAuthenticationProtocol: u32,
    pub dwRemoteAuthenticationData: u32,
    pub dwTerminateReason: u32,
    pub dwRemoteTerminateReason: u32,
    pub dwOptions: u32,
    pub dwRemoteOptions: u32,
    pub dwEapTypeId: u32,
    pub dwRemoteEapTypeId: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PppInfo2 {
    pub nbf: PppNbfcpInfo,
    pub ip: PppIpcpInfo2,
    pub ipx: PppIpxcpInfo,
    pub at: PppAtcpInfo,
    pub ccp: PppCcpInfo,
    pub lcp: PppLcpInfo,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RasConnection2 {
    pub hConnection: HANDLE,
    pub wszUserName: [WCHAR; UNLEN + 1],
    pub _pad0: [u8; 2],
    pub dwInterfaceType: u32,
    pub guid: Guid,
    pub PppInfo2: PppInfo2,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct PppIpv6CpInfo {
    pub dwVersion: u32,
    pub dwSize: u32,
    pub dwError: u32,
    pub bInterfaceIdentifier: [u8; 8],
    pub bRemoteInterfaceIdentifier: [u8; 8],
    pub dwOptions: u32,
    pub dwRemoteOptions: u32,
    pub bPrefix: [u8; 8],
    pub dwPrefixLength: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PppInfo3 {
    pub nbf: PppNbfcpInfo,
    pub ip: PppIpcpInfo2,
    pub ipv6: PppIpv6CpInfo,
    pub ccp: PppCcpInfo,
    pub lcp: PppLcpInfo,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RasConnection3 {
    pub dwVersion: u32,
    pub dwSize: u32,
    pub hConnection: HANDLE,
    pub wszUserName: [WCHAR; UNLEN + 1],
    pub _pad0: [u8; 2],
    pub dwInterfaceType: u32,
    pub guid: Guid,
    pub PppInfo3: PppInfo3,
    pub rasQuarState: u32,
    pub timer: Filetime,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RasPort0 {
    pub hPort: HANDLE,
    pub hConnection: HANDLE,
    pub dwPortCondition: u32,
    pub dwTotalNumberOfCalls: u32,
    pub dwConnectDuration: u32,
    pub wszPortName: [WCHAR; MAX_PORT_NAME + 1],
    pub wszMediaName: [WCHAR; MAX_MEDIA_NAME + 1],
    pub wszDeviceName: [WCHAR; MAX_DEVICE_NAME + 1],
    pub wszDeviceType: [WCHAR; MAX_DEVICETYPE_NAME + 1],
    pub _pad0: [u8; 4],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RasPort1 {
    pub hPort: HANDLE,
    pub hConnection: HANDLE,
    pub dwHardwareCondition: u32,
    pub dwLineSpeed: u32,
    pub dwBytesXmited: u32,
    pub dwBytesRcved: u32,
    pub dwFramesXmited: u32,
    pub dwFramesRcved: u32,
    pub dwCrcErr: u32,
    pub dwTimeoutErr: u32,
    pub dwAlignmentErr: u32,
    pub dwHardwareOverrunErr: u32,
    pub dwFramingErr: u32,
    pub dwBufferOverrunErr: u32,
    pub dwCompressionRatioIn: u32,
    pub dwCompressionRatioOut: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct MprServer0 {
    pub fLanOnlyMode: i32,
    pub dwUpTime: u32,
    pub dwTotalPorts: u32,
    pub dwPortsInUse: u32,
}

include!("layout_asserts.rs");
