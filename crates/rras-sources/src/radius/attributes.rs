//! RADIUS numbers in one place: attribute types (RFC 2865, 2866, 2869,
//! 3162, 4818, 5176, 6911), Acct-Status-Type values, Tunnel-Type and
//! NAS-Port-Type values, and the Microsoft vendor attributes. Accounting,
//! Disconnect-Request and the load generator all name attributes from here.

// RFC 2865 / 2866 / 2869 / 3162 / 4818 / 6911 attribute numbers.
/// User-Name.
pub const USER_NAME: u8 = 1;
/// NAS-IP-Address.
pub const NAS_IP_ADDRESS: u8 = 4;
/// NAS-Port.
pub const NAS_PORT: u8 = 5;
/// Service-Type.
pub const SERVICE_TYPE: u8 = 6;
/// Framed-Protocol.
pub const FRAMED_PROTOCOL: u8 = 7;
/// Framed-IP-Address.
pub const FRAMED_IP_ADDRESS: u8 = 8;
/// Vendor-Specific.
pub const VENDOR_SPECIFIC: u8 = 26;
/// Class.
pub const CLASS: u8 = 25;
/// Called-Station-Id.
pub const CALLED_STATION_ID: u8 = 30;
/// Calling-Station-Id.
pub const CALLING_STATION_ID: u8 = 31;
/// NAS-Identifier.
pub const NAS_IDENTIFIER: u8 = 32;
/// Acct-Status-Type.
pub const ACCT_STATUS_TYPE: u8 = 40;
/// Acct-Delay-Time.
pub const ACCT_DELAY_TIME: u8 = 41;
/// Acct-Input-Octets.
pub const ACCT_INPUT_OCTETS: u8 = 42;
/// Acct-Output-Octets.
pub const ACCT_OUTPUT_OCTETS: u8 = 43;
/// Acct-Session-Id.
pub const ACCT_SESSION_ID: u8 = 44;
/// Acct-Session-Time.
pub const ACCT_SESSION_TIME: u8 = 46;
/// Acct-Input-Packets.
pub const ACCT_INPUT_PACKETS: u8 = 47;
/// Acct-Output-Packets.
pub const ACCT_OUTPUT_PACKETS: u8 = 48;
/// Acct-Terminate-Cause.
pub const ACCT_TERMINATE_CAUSE: u8 = 49;
/// Acct-Input-Gigawords.
pub const ACCT_INPUT_GIGAWORDS: u8 = 52;
/// Acct-Output-Gigawords.
pub const ACCT_OUTPUT_GIGAWORDS: u8 = 53;
/// Event-Timestamp.
pub const EVENT_TIMESTAMP: u8 = 55;
/// NAS-Port-Type.
pub const NAS_PORT_TYPE: u8 = 61;
/// Tunnel-Type.
pub const TUNNEL_TYPE: u8 = 64;
/// Tunnel-Medium-Type.
pub const TUNNEL_MEDIUM_TYPE: u8 = 65;
/// Tunnel-Client-Endpoint.
pub const TUNNEL_CLIENT_ENDPOINT: u8 = 66;
/// Tunnel-Server-Endpoint.
pub const TUNNEL_SERVER_ENDPOINT: u8 = 67;
/// Acct-Interim-Interval.
pub const ACCT_INTERIM_INTERVAL: u8 = 85;
/// NAS-Port-Id.
pub const NAS_PORT_ID: u8 = 87;
/// Framed-Interface-Id.
pub const FRAMED_INTERFACE_ID: u8 = 96;
/// Framed-IPv6-Prefix.
pub const FRAMED_IPV6_PREFIX: u8 = 97;
/// NAS-IPv6-Address.
pub const NAS_IPV6_ADDRESS: u8 = 95;
/// Delegated-IPv6-Prefix.
pub const DELEGATED_IPV6_PREFIX: u8 = 123;
/// Framed-IPv6-Address.
pub const FRAMED_IPV6_ADDRESS: u8 = 168;
/// Acct-Authentic.
pub const ACCT_AUTHENTIC: u8 = 45;

// Acct-Status-Type values.
/// Acct-Status-Type Start.
pub const STATUS_START: u32 = 1;
/// Acct-Status-Type Stop.
pub const STATUS_STOP: u32 = 2;
/// Acct-Status-Type Interim-Update.
pub const STATUS_INTERIM: u32 = 3;
/// Acct-Status-Type Accounting-On.
pub const STATUS_ACCOUNTING_ON: u32 = 7;
/// Acct-Status-Type Accounting-Off.
pub const STATUS_ACCOUNTING_OFF: u32 = 8;

// Microsoft VSAs (vendor 311, RFC 2548 and the MS-RAS dictionary).
/// Microsoft's vendor number.
pub const VENDOR_MICROSOFT: u32 = 311;
/// MS-Acct-Auth-Type: 1 PAP, 2 CHAP, 3 MS-CHAP-1, 4 MS-CHAP-2, 5 EAP.
pub const MS_ACCT_AUTH_TYPE: u8 = 23;
/// MS-Acct-EAP-Type: the EAP method's type number.
pub const MS_ACCT_EAP_TYPE: u8 = 24;
/// MS-RAS-Client-Name.
pub const MS_RAS_CLIENT_NAME: u8 = 34;
/// MS-Quarantine-State.
pub const MS_QUARANTINE_STATE: u8 = 45;
/// MS-Quarantine-Grace-Time.
pub const MS_QUARANTINE_GRACE_TIME: u8 = 46;
/// MS-RAS-Correlation-Id.
pub const MS_RAS_CORRELATION_ID: u8 = 56;

/// Tunnel-Type PPTP.
pub const TUNNEL_PPTP: u32 = 1;
/// Tunnel-Type L2TP.
pub const TUNNEL_L2TP: u32 = 3;
/// Tunnel-Type ESP (IPsec tunnel mode, IKEv2).
pub const TUNNEL_ESP: u32 = 9;
/// Framed-Protocol PPP.
pub const FRAMED_PPP: u32 = 1;

/// Error-Cause (RFC 5176).
pub const ERROR_CAUSE: u8 = 101;

/// Message-Authenticator (RFC 3579 §3.2): HMAC-MD5 over the packet.
pub const MESSAGE_AUTHENTICATOR: u8 = 80;

// NAS-Port-Type values (RFC 2865 §5.41, RFC 4603).
/// NAS-Port-Type Virtual (a VPN tunnel).
pub const PORT_VIRTUAL: u32 = 5;
/// NAS-Port-Type PPPoA.
pub const PORT_PPPOA: u32 = 30;
/// NAS-Port-Type PPPoEoA.
pub const PORT_PPPOEOA: u32 = 31;
/// NAS-Port-Type PPPoEoE.
pub const PORT_PPPOEOE: u32 = 32;
/// NAS-Port-Type PPPoEoVLAN.
pub const PORT_PPPOEOVLAN: u32 = 33;
/// NAS-Port-Type PPPoEoQinQ.
pub const PORT_PPPOEOQINQ: u32 = 34;
