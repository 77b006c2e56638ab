// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IMessageRegistry} from "./interfaces/IMessageRegistry.sol";

/**
 * @title MessageRegistry
 * @notice Validates, sequences and seals ChainMail messages in a per-channel hash chain.
 * Bodies live only in the event log; storage holds each channel's head and seq and the
 * authors' nonce bitmaps.
 * Immutable by design: there is no upgrade path. The registry admin role moves in two
 * steps with a delay (OpenZeppelin AccessControlDefaultAdminRules): the new admin
 * accepts after `defaultAdminDelay()`, and only one account ever holds the role.
 */
contract MessageRegistry is IMessageRegistry, AccessControlDefaultAdminRules, Pausable, EIP712 {
    bytes32 private constant MESSAGE_TYPEHASH =
        keccak256(
            "Message(bytes32 channel,address author,bytes body,uint8 contentType,uint64 timestamp,uint64 replyTo,uint256 nonce)"
        );

    struct Channel {
        bytes32 head;
        uint64 seq;
        bool exists;
        bool open;
    }

    /// @dev One message being checked, from either entry point: the scalars, and where its
    /// body and signature lie in calldata (so neither is copied until it is hashed or logged).
    struct Msg {
        bytes32 channel;
        address author;
        uint256 contentType;
        uint256 timestamp;
        uint256 replyTo;
        uint256 nonce;
        uint256 bodyOffset;
        uint256 bodyLength;
        uint256 sigOffset;
        uint256 sigLength;
        // Set by _check for _seal: the author's nonce word's slot, and its bits with this nonce's set.
        uint256 nonceSlot;
        uint256 nonceBits;
        // Bytes replyTo and nonce take in the packed batch and the log (big-endian, no padding).
        uint256 replyToLength;
        uint256 nonceLength;
    }

    /// @dev What every message of a call is checked against, read once per call (and the
    /// channel's member role, once per channel): one memory struct keeps the stack shallow.
    struct Ctx {
        uint256 maxBodyBytes;
        uint256 maxAge;
        uint256 maxFutureSkew;
        uint256 knownTypes;
        bytes32 domain;
        bytes32 role;
        // keccak256(role, ROLES_SLOT): where AccessControl keeps the role's members.
        uint256 membersSlot;
    }

    /// @dev AccessControl's `_roles` mapping (test/storage-layout.ts pins it): the batch fast
    /// path reads membership from storage directly instead of through hasRole.
    uint256 private constant ROLES_SLOT = 0;
    /// @dev secp256k1n / 2: a larger s is the malleable twin (OpenZeppelin ECDSA refuses it too).
    uint256 private constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @dev Bytes of a run's header: channel 32, message count 2.
    uint256 private constant RUN_HEADER = 34;
    /// @dev A packed message: author 20, contentType 1, timestamp 8, R 1, replyTo R (0-8),
    /// N 1, nonce N (0-32), body length 4, signature length 2, body, signature. replyTo and
    /// nonce without their leading zero bytes: an SDK nonce is 16 bytes and replyTo mostly
    /// 0, so this saves calldata (zero bytes cost 4 gas) and, logged the same way, 8 gas a
    /// byte of log.
    uint256 private constant MAX_REPLY_TO_LENGTH = 8;
    uint256 private constant MAX_NONCE_LENGTH = 32;

    /// @notice The gas an author's EIP-1271 wallet gets to check one signature. Chosen as
    /// about three times an ECDSA threshold multisig's check (5 owners: 5 ecrecovers at 3k
    /// plus cold owner lookups at 2.1k, roughly 30k with overhead); it excludes wallets
    /// that verify P-256 in Solidity without a precompile. A hostile wallet costs a batch
    /// at most this much (40 honest messages cost about 1M gas).
    uint256 public constant WALLET_CHECK_GAS = 100_000;

    mapping(bytes32 channel => Channel) private _channels;
    // Permit2-style unordered nonces: bit (nonce & 0xff) of word (nonce >> 8). An author's
    // messages can land in any order, and 256 nonces share one storage slot.
    mapping(address author => mapping(uint256 word => uint256 bits)) private _nonceBitmap;
    bytes32[] private _channelIds;
    Limits private _limits;
    uint256 private _knownContentTypes;

    /// @inheritdoc IMessageRegistry
    uint256 public immutable deploymentBlock;

    /// @notice The registry admin role's transfer delay at deployment; the admin may change
    /// it with `changeDefaultAdminDelay` (itself delayed). A day leaves time to notice and
    /// cancel (`cancelDefaultAdminTransfer`) a transfer started with a stolen key.
    uint48 public constant INITIAL_ADMIN_DELAY = 1 days;

    /**
     * @param admin The registry admin: creates channels, sets limits and content types, pauses.
     * @param initialLimits The message limits to start with.
     */
    constructor(
        address admin,
        Limits memory initialLimits
    ) AccessControlDefaultAdminRules(INITIAL_ADMIN_DELAY, _nonZero(admin)) EIP712("ChainMail", "1") {
        deploymentBlock = block.number;
        _setLimits(initialLimits);
        // 1 text/plain (UTF-8), 2 application/json, 3 application/octet-stream
        _setContentType(1, true);
        _setContentType(2, true);
        _setContentType(3, true);
    }

    modifier onlyChannelAdmin(bytes32 channel) {
        if (!_channels[channel].exists) revert UnknownChannel(channel);
        if (!hasRole(adminRole(channel), msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotChannelAdmin(channel, msg.sender);
        }
        _;
    }

    // ---------------------------------------------------------------- administration

    /// @inheritdoc IMessageRegistry
    function createChannel(bytes32 channel, address admin) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (channel == bytes32(0)) revert InvalidChannelId();
        if (admin == address(0)) revert InvalidAdmin();
        Channel storage c = _channels[channel];
        if (c.exists) revert ChannelAlreadyExists(channel);
        c.exists = true;
        c.open = true;
        _channelIds.push(channel);
        _setRoleAdmin(memberRole(channel), adminRole(channel));
        emit ChannelCreated(channel, admin);
        _grantRole(adminRole(channel), admin);
    }

    /// @inheritdoc IMessageRegistry
    function closeChannel(bytes32 channel) external onlyChannelAdmin(channel) {
        Channel storage c = _channels[channel];
        if (!c.open) revert ChannelIsClosed(channel);
        c.open = false;
        emit ChannelClosed(channel);
    }

    /// @inheritdoc IMessageRegistry
    function reopenChannel(bytes32 channel) external onlyChannelAdmin(channel) {
        Channel storage c = _channels[channel];
        if (c.open) revert ChannelIsOpen(channel);
        c.open = true;
        emit ChannelReopened(channel);
    }

    /// @inheritdoc IMessageRegistry
    function setLimits(Limits calldata newLimits) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setLimits(newLimits);
    }

    /// @inheritdoc IMessageRegistry
    function setContentType(uint8 contentType, bool known) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setContentType(contentType, known);
    }

    /// @inheritdoc IMessageRegistry
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /// @inheritdoc IMessageRegistry
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @notice Renouncing the registry admin role while paused would leave the registry
    /// paused for good: unpause first. (Renouncing is otherwise two steps with the delay.)
    function renounceRole(
        bytes32 role,
        address account
    ) public override {
        if (role == DEFAULT_ADMIN_ROLE && paused()) revert AdminRenounceWhilePaused();
        super.renounceRole(role, account);
    }

    // ---------------------------------------------------------------- authors

    /// @inheritdoc IMessageRegistry
    function invalidateUnorderedNonces(uint256 wordPos, uint256 mask) external {
        // msg.sender is the author: only they can spend their own nonces (a contract
        // wallet calls this itself). Anyone may spend their own bits freely: it only
        // cancels messages they signed and nobody posted yet.
        _nonceBitmap[msg.sender][wordPos] |= mask;
        emit UnorderedNonceInvalidation(msg.sender, wordPos, mask);
    }

    // ---------------------------------------------------------------- posting

    /// @inheritdoc IMessageRegistry
    function post(SignedMessage calldata message) external whenNotPaused returns (uint64 seq) {
        Msg memory m = _fromStruct(message);
        Channel memory c = _channels[m.channel];
        Ctx memory x = _context();
        x.role = memberRole(m.channel);
        (Reason reason, bytes32 digest) = _check(m, c, x);
        if (reason != Reason.None) _revertWith(reason, message, c, _limits);
        _seal(m, digest, c);
        _store(m.channel, c);
        return c.seq;
    }

    /// @inheritdoc IMessageRegistry
    function postBatch(bytes calldata packed) external whenNotPaused returns (uint256 posted) {
        Ctx memory x = _context();
        // The batch is runs of messages of one channel: the channel's state stays in memory
        // for its run and is written back once (the channel id is in the run, not in each message).
        Channel memory c;
        Msg memory m;
        uint256 start = _offsetOf(packed);
        uint256 end = start + packed.length;
        uint256 p = start;
        while (p < end) {
            uint256 count;
            (p, count) = _runHeader(m, p, end, start);
            bytes32 current = m.channel;
            c = _channels[current];
            x.role = memberRole(current);
            x.membersSlot = uint256(keccak256(abi.encode(x.role, ROLES_SLOT)));
            bool dirty = false;
            // count > 0 in the loop and posted <= messages: neither wraps.
            for (; count != 0; ) {
                unchecked {
                    --count;
                }
                // The common case (a good message signed with ECDSA) in one pass of assembly,
                // straight from calldata to the log; anything else is decoded and goes
                // through _check, which names the reason or asks the author's wallet.
                (bool fast, uint256 next) = _postFast(current, p, end, c, x);
                if (fast) {
                    p = next;
                    dirty = true;
                    unchecked {
                        ++posted;
                    }
                    continue;
                }
                p = _fromPacked(m, p, end, start);
                // Each message's scratch memory (hashing, event encoding) is dead after it;
                // reuse it so memory cost stays linear in the batch size.
                uint256 scratch = _freeMemoryPointer();
                (Reason reason, bytes32 digest) = _check(m, c, x);
                if (reason == Reason.None) {
                    _seal(m, digest, c);
                    dirty = true;
                    unchecked {
                        ++posted;
                    }
                } else {
                    emit MessageRejected(current, m.author, digest, reason);
                }
                _setFreeMemoryPointer(scratch);
            }
            if (dirty) _store(current, c);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IMessageRegistry
    function channelInfo(bytes32 channel) external view returns (bool exists, bool open, uint64 seq, bytes32 head) {
        Channel storage c = _channels[channel];
        return (c.exists, c.open, c.seq, c.head);
    }

    /// @inheritdoc IMessageRegistry
    function channelCount() external view returns (uint256) {
        return _channelIds.length;
    }

    /// @inheritdoc IMessageRegistry
    function channels(uint256 offset, uint256 limit) external view returns (bytes32[] memory page) {
        uint256 total = _channelIds.length;
        if (offset >= total) return page;
        // Written so that a huge limit cannot overflow offset + limit.
        uint256 size = limit > total - offset ? total - offset : limit;
        page = new bytes32[](size);
        for (uint256 i = 0; i < size; ++i) page[i] = _channelIds[offset + i];
    }

    /// @inheritdoc IMessageRegistry
    function memberRole(bytes32 channel) public pure returns (bytes32) {
        return keccak256(abi.encode(channel, "MEMBER"));
    }

    /// @inheritdoc IMessageRegistry
    function adminRole(bytes32 channel) public pure returns (bytes32) {
        return keccak256(abi.encode(channel, "ADMIN"));
    }

    /// @inheritdoc IMessageRegistry
    function digestOf(SignedMessage calldata message) external view returns (bytes32) {
        return _digestOf(_fromStruct(message), _domainSeparatorV4());
    }

    /// @inheritdoc IMessageRegistry
    function isNonceUsed(address author, uint256 nonce) public view returns (bool) {
        return _nonceBitmap[author][nonce >> 8] & (uint256(1) << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IMessageRegistry
    function limits() external view returns (Limits memory) {
        return _limits;
    }

    /// @inheritdoc IMessageRegistry
    function isContentTypeKnown(uint8 contentType) public view returns (bool) {
        return (_knownContentTypes >> contentType) & 1 == 1;
    }

    // ---------------------------------------------------------------- internals

    function _context() private view returns (Ctx memory x) {
        Limits memory lim = _limits;
        x.maxBodyBytes = lim.maxBodyBytes;
        x.maxAge = lim.maxAge;
        x.maxFutureSkew = lim.maxFutureSkew;
        x.knownTypes = _knownContentTypes;
        x.domain = _domainSeparatorV4();
    }

    /// @dev Posts the packed message at calldata position `p` if it is the common case: well
    /// formed, inside the batch, passing every check of _check, with a canonical 65-byte
    /// ECDSA signature by its author. Then it marks the nonce, advances `c` and logs exactly
    /// what _seal logs, and returns where the next message starts. Otherwise it returns
    /// false having changed nothing, and the caller decodes the message for _check.
    /// Why a second path: no Msg in memory, and the body is copied once, to its place in
    /// the log, where it is also hashed; about 330 gas a message less than decoding it for
    /// _check and _seal (`pnpm bench:gas`). A test holds the two paths to the same logs.
    function _postFast(bytes32 channel, uint256 p, uint256 end, Channel memory c, Ctx memory x) private returns (bool ok, uint256 next) {
        bytes32 typehash = MESSAGE_TYPEHASH;
        bytes32 topic = MessagePosted.selector;
        // Why the odd reads through memory below: the optimizer, short of stack slots inside
        // postBatch's loop, recomputes a value derived from calldata at every use (calldata
        // cannot change), which cost more than all the rest; a value read from memory it keeps.
        assembly ("memory-safe") {
            // c: head, seq, exists, open; x: maxBodyBytes, maxAge, maxFutureSkew, knownTypes, domain, role, membersSlot.
            // The packed layout: author 20, contentType 1, timestamp 8, R 1, replyTo R, N 1,
            // nonce N, body length 4, signature length 2, body, signature.
            // Free memory, which stays free: two words for where the signature and the body
            // start, then the log in _seal's layout (110 + R + N bytes of header, then the
            // body, copied once and hashed in place), then hashing scratch.
            let ptr := add(mload(0x40), 0x40)
            let s := 0
            {
                calldatacopy(sub(ptr, 0x20), add(p, 29), 1)
                let rlen := byte(0, mload(sub(ptr, 0x20)))
                let q := add(add(p, 30), rlen)
                calldatacopy(sub(ptr, 0x20), q, 1)
                let nlen := byte(0, mload(sub(ptr, 0x20)))
                q := add(add(q, 1), nlen)
                calldatacopy(sub(ptr, 0x40), q, 4)
                let blen := shr(224, mload(sub(ptr, 0x40)))
                next := add(add(add(q, 6), blen), 65)
                // Lengths are at most 255, 2^32 and 65 here, so no sum overflows.
                ok := and(and(iszero(gt(rlen, MAX_REPLY_TO_LENGTH)), iszero(gt(nlen, MAX_NONCE_LENGTH))), eq(shr(240, calldataload(add(q, 4))), 65))
                ok := and(ok, iszero(gt(next, end)))
                ok := and(ok, and(iszero(iszero(blen)), iszero(gt(blen, mload(x)))))
                if ok {
                    let bodyAt := add(ptr, add(110, add(rlen, nlen)))
                    s := add(bodyAt, blen)
                    mstore(sub(ptr, 0x40), sub(next, 65))
                    mstore(sub(ptr, 0x20), bodyAt)
                    calldatacopy(bodyAt, add(q, 6), blen)
                    // The struct's words; replyTo and nonce are right-aligned big-endian.
                    mstore(add(s, 0x60), keccak256(bodyAt, blen))
                    mstore(add(s, 0xc0), shr(sub(256, shl(3, rlen)), calldataload(add(p, 30))))
                    mstore(add(s, 0xe0), shr(sub(256, shl(3, nlen)), calldataload(sub(q, nlen))))
                }
            }
            let author := shr(96, calldataload(p))
            if ok {
                let ts := shr(192, calldataload(add(p, 21)))
                let ct := byte(0, calldataload(add(p, 20)))
                mstore(s, typehash)
                mstore(add(s, 0x20), channel)
                mstore(add(s, 0x40), author)
                mstore(add(s, 0x80), ct)
                mstore(add(s, 0xa0), ts)
                ok := and(mload(add(c, 0x40)), mload(add(c, 0x60)))
                ok := and(ok, and(shr(ct, mload(add(x, 0x60))), 1))
                ok := and(ok, iszero(gt(ts, add(timestamp(), mload(add(x, 0x40))))))
                ok := and(ok, iszero(lt(add(ts, mload(add(x, 0x20))), timestamp())))
                ok := and(ok, iszero(gt(mload(add(s, 0xc0)), mload(add(c, 0x20)))))
            }
            if ok {
                mstore(0x00, author)
                mstore(0x20, mload(add(x, 0xc0)))
                ok := and(and(sload(keccak256(0x00, 0x40)), 0xff), iszero(iszero(author)))
            }
            let digest := 0
            if ok {
                let structHash := keccak256(s, 0x100)
                // Past the struct's words: the nonce stays at s + 0xe0 for later.
                let t := add(s, 0x100)
                mstore(t, shl(240, 0x1901))
                mstore(add(t, 0x02), mload(add(x, 0x80)))
                mstore(add(t, 0x22), structHash)
                digest := keccak256(t, 0x42)
                let sig := mload(sub(ptr, 0x40))
                let v := byte(0, calldataload(add(sig, 0x40)))
                let sv := calldataload(add(sig, 0x20))
                ok := and(iszero(gt(sv, HALF_N)), or(eq(v, 27), eq(v, 28)))
                if ok {
                    mstore(t, digest)
                    mstore(add(t, 0x20), v)
                    mstore(add(t, 0x40), calldataload(sig))
                    mstore(add(t, 0x60), sv)
                    mstore(0x00, 0)
                    // ecrecover leaves 0x00 as zero for an invalid signature; author is not zero here.
                    // Two statements: Yul evaluates arguments right to left, so a one-liner would read 0x00 before the call.
                    ok := staticcall(gas(), 0x01, t, 0x80, 0x00, 0x20)
                    ok := and(ok, eq(mload(0x00), author))
                }
            }
            if ok {
                // The nonce last, so that its word is written only once everything else passed.
                let nonce := mload(add(s, 0xe0))
                mstore(0x00, author)
                mstore(0x20, _nonceBitmap.slot)
                mstore(0x20, keccak256(0x00, 0x40))
                mstore(0x00, shr(8, nonce))
                let slot := keccak256(0x00, 0x40)
                let bits := sload(slot)
                let bit := shl(and(nonce, 0xff), 1)
                ok := iszero(and(bits, bit))
                if ok {
                    sstore(slot, or(bits, bit))
                }
            }
            if ok {
                // head_n = keccak256(abi.encode(head_{n-1}, digest_n, n)); 2^64 messages in
                // one channel would take a million a second for 580,000 years.
                let seq := add(mload(add(c, 0x20)), 1)
                mstore(s, mload(c))
                mstore(add(s, 0x20), digest)
                mstore(add(s, 0x40), seq)
                let head := keccak256(s, 0x60)
                mstore(c, head)
                mstore(add(c, 0x20), seq)
                // The header's contentType, timestamp, R, replyTo, N and nonce are the batch's
                // bytes from contentType on, as they stand: 11 + R + N bytes.
                let bodyAt := mload(sub(ptr, 0x20))
                calldatacopy(ptr, add(p, 20), sub(bodyAt, add(ptr, 99)))
                // head 32, signature length 2, signature 65 right before the body; the
                // 32-byte writes end inside the signature, which is copied last.
                mstore(sub(bodyAt, 99), head)
                mstore(sub(bodyAt, 67), shl(240, 65))
                calldatacopy(sub(bodyAt, 65), mload(sub(ptr, 0x40)), 65)
                log4(ptr, sub(s, ptr), topic, channel, seq, author)
                next := add(mload(sub(ptr, 0x40)), 65)
            }
        }
    }

    function _check(Msg memory m, Channel memory c, Ctx memory x) private view returns (Reason, bytes32 digest) {
        digest = _digestOf(m, x.domain);
        if (!c.exists) return (Reason.UnknownChannel, digest);
        if (!c.open) return (Reason.ChannelClosed, digest);
        uint256 length = m.bodyLength;
        if (length == 0) return (Reason.EmptyBody, digest);
        if (length > x.maxBodyBytes) return (Reason.BodyTooLarge, digest);
        if ((x.knownTypes >> m.contentType) & 1 == 0) return (Reason.UnknownContentType, digest);
        if (m.timestamp > block.timestamp + x.maxFutureSkew) return (Reason.TimestampInFuture, digest);
        if (m.timestamp + x.maxAge < block.timestamp) return (Reason.MessageExpired, digest);
        if (m.replyTo > c.seq) return (Reason.UnknownReply, digest);
        if (!hasRole(x.role, m.author)) return (Reason.NotMember, digest);
        // The nonce word is read once here and written once by _seal (same slot as isNonceUsed).
        uint256 slot;
        uint256 bits;
        uint256 bit = uint256(1) << (m.nonce & 0xff);
        address author = m.author;
        uint256 word = m.nonce >> 8;
        assembly ("memory-safe") {
            mstore(0x00, author)
            mstore(0x20, _nonceBitmap.slot)
            mstore(0x20, keccak256(0x00, 0x40))
            mstore(0x00, word)
            slot := keccak256(0x00, 0x40)
            bits := sload(slot)
        }
        if (bits & bit != 0) return (Reason.NonceUsed, digest);
        m.nonceSlot = slot;
        m.nonceBits = bits | bit;
        if (!_signatureOk(m, digest)) return (Reason.BadSignature, digest);
        return (Reason.None, digest);
    }

    function _signatureOk(Msg memory m, bytes32 digest) private view returns (bool) {
        // The log keeps the signature's length in 2 bytes; no real signature comes near.
        if (m.sigLength > type(uint16).max) return false;
        return _isValidSignature(m.author, digest, msg.data[m.sigOffset:m.sigOffset + m.sigLength]);
    }

    /// @dev Marks the nonce, advances the channel, and logs the message in the packed
    /// layout of {MessagePosted} (see the interface): signature and body are copied
    /// straight from calldata into the log's memory, with no ABI padding.
    function _seal(Msg memory m, bytes32 digest, Channel memory c) private {
        uint256 slot = m.nonceSlot;
        uint256 bits = m.nonceBits;
        uint64 seq;
        // 2^64 messages in one channel would take a million a second for 580,000 years.
        unchecked {
            seq = ++c.seq;
        }
        bytes32 head = c.head;
        bytes32 topic = MessagePosted.selector;
        assembly ("memory-safe") {
            sstore(slot, bits)
            // head_n = keccak256(abi.encode(head_{n-1}, digest_n, n)), in scratch memory.
            let ptr := mload(0x40)
            mstore(ptr, head)
            mstore(add(ptr, 0x20), digest)
            mstore(add(ptr, 0x40), seq)
            head := keccak256(ptr, 0x60)
            // Each mstore writes 32 bytes; later fields overwrite the tail of earlier ones.
            // A shift by 256 (a zero length) gives 0, so an empty field writes nothing that stays.
            mstore(ptr, shl(248, mload(add(m, 0x40))))
            mstore(add(ptr, 1), shl(192, mload(add(m, 0x60))))
            // Few live variables (o, len): more would make the compiler spill to memory.
            let o := add(ptr, 9)
            let len := mload(add(m, 0x180))
            mstore(o, shl(248, len))
            mstore(add(o, 1), shl(sub(256, shl(3, len)), mload(add(m, 0x80))))
            o := add(add(o, 1), len)
            len := mload(add(m, 0x1a0))
            mstore(o, shl(248, len))
            mstore(add(o, 1), shl(sub(256, shl(3, len)), mload(add(m, 0xa0))))
            o := add(add(o, 1), len)
            mstore(o, head)
            len := mload(add(m, 0x120))
            mstore(add(o, 32), shl(240, len))
            o := add(o, 34)
            calldatacopy(o, mload(add(m, 0x100)), len)
            o := add(o, len)
            len := mload(add(m, 0xe0))
            calldatacopy(o, mload(add(m, 0xc0)), len)
            o := add(o, len)
            log4(ptr, sub(o, ptr), topic, mload(m), seq, mload(add(m, 0x20)))
        }
        c.head = head;
    }

    function _store(bytes32 channel, Channel memory c) private {
        Channel storage s = _channels[channel];
        s.head = c.head;
        s.seq = c.seq;
    }

    /// @dev The EIP-712 digest (what _hashTypedDataV4 computes), hashed in scratch memory:
    /// keccak256(0x1901 || domain || keccak256(abi.encode(TYPEHASH, channel, author,
    /// keccak256(body), contentType, timestamp, replyTo, nonce))). A contract test holds it
    /// equal to the protocol package's digestOf.
    function _digestOf(Msg memory m, bytes32 domain) private pure returns (bytes32 digest) {
        bytes32 typehash = MESSAGE_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let bodyLength := mload(add(m, 0xe0))
            calldatacopy(ptr, mload(add(m, 0xc0)), bodyLength)
            let bodyHash := keccak256(ptr, bodyLength)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), mload(m))
            mstore(add(ptr, 0x40), mload(add(m, 0x20)))
            mstore(add(ptr, 0x60), bodyHash)
            mstore(add(ptr, 0x80), mload(add(m, 0x40)))
            mstore(add(ptr, 0xa0), mload(add(m, 0x60)))
            mstore(add(ptr, 0xc0), mload(add(m, 0x80)))
            mstore(add(ptr, 0xe0), mload(add(m, 0xa0)))
            let structHash := keccak256(ptr, 0x100)
            mstore(ptr, shl(240, 0x1901))
            mstore(add(ptr, 0x02), domain)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    /// @dev The ABI struct of `post` and `digestOf`, as a Msg (body and signature stay in calldata).
    function _fromStruct(SignedMessage calldata message) private pure returns (Msg memory m) {
        bytes calldata body = message.body;
        bytes calldata signature = message.signature;
        m.channel = message.channel;
        m.author = message.author;
        m.contentType = message.contentType;
        m.timestamp = message.timestamp;
        m.replyTo = message.replyTo;
        m.nonce = message.nonce;
        m.bodyOffset = _offsetOf(body);
        m.bodyLength = body.length;
        m.sigOffset = _offsetOf(signature);
        m.sigLength = signature.length;
        m.replyToLength = _byteLength(message.replyTo);
        m.nonceLength = _byteLength(message.nonce);
    }

    /// @dev Bytes of `value` without its leading zero bytes (0 for 0).
    function _byteLength(uint256 value) private pure returns (uint256 n) {
        while (value != 0) {
            ++n;
            value >>= 8;
        }
    }

    /// @dev Reads the run header at calldata position `p` (its channel into m.channel) and
    /// returns where its first message starts and how many follow; reverts MalformedBatch
    /// if the header runs past `end` or the run is empty (`start` is the batch's first byte).
    function _runHeader(Msg memory m, uint256 p, uint256 end, uint256 start) private pure returns (uint256 next, uint256 count) {
        bytes4 malformed = MalformedBatch.selector;
        assembly ("memory-safe") {
            next := add(p, RUN_HEADER)
            count := shr(240, calldataload(add(p, 32)))
            if or(gt(next, end), iszero(count)) {
                mstore(0x00, malformed)
                mstore(0x04, sub(p, start))
                revert(0x00, 0x24)
            }
            mstore(m, calldataload(p))
        }
    }

    /// @dev Reads the packed message at calldata position `p` into `m` (all but the channel,
    /// which its run gave) and returns where the next one starts; reverts MalformedBatch if
    /// it runs past `end` (`start` is the batch's first byte, for the error's offset).
    function _fromPacked(Msg memory m, uint256 p, uint256 end, uint256 start) private pure returns (uint256 next) {
        bytes4 malformed = MalformedBatch.selector;
        assembly ("memory-safe") {
            // Every field is read with calldataload (safe anywhere), then one check: a message
            // whose last byte is inside the batch has all its fields inside it too. Lengths are
            // at most 2^32, 2^16 and 255, so no sum overflows.
            // Few live variables (more would make the compiler spill to memory): each field
            // goes to m as soon as it is read.
            let len := byte(0, calldataload(add(p, 29)))
            let bad := gt(len, MAX_REPLY_TO_LENGTH)
            mstore(add(m, 0x180), len)
            mstore(add(m, 0x80), shr(sub(256, shl(3, len)), calldataload(add(p, 30))))
            next := add(add(p, 30), len)
            len := byte(0, calldataload(next))
            bad := or(bad, gt(len, MAX_NONCE_LENGTH))
            mstore(add(m, 0x1a0), len)
            mstore(add(m, 0xa0), shr(sub(256, shl(3, len)), calldataload(add(next, 1))))
            next := add(add(next, 1), len)
            // next is at the body length (4 bytes), then the signature length (2), then the body.
            len := shr(224, calldataload(next))
            mstore(add(m, 0xe0), len)
            mstore(add(m, 0x120), shr(240, calldataload(add(next, 4))))
            mstore(add(m, 0xc0), add(next, 6))
            next := add(add(next, 6), len)
            mstore(add(m, 0x100), next)
            next := add(next, mload(add(m, 0x120)))
            if or(bad, gt(next, end)) {
                mstore(0x00, malformed)
                mstore(0x04, sub(p, start))
                revert(0x00, 0x24)
            }
            mstore(add(m, 0x20), shr(96, calldataload(p)))
            mstore(add(m, 0x40), shr(248, calldataload(add(p, 20))))
            mstore(add(m, 0x60), shr(192, calldataload(add(p, 21))))
        }
    }

    function _offsetOf(bytes calldata data) private pure returns (uint256 offset) {
        assembly ("memory-safe") {
            offset := data.offset
        }
    }

    /// @dev ECDSA first (the common, cheap case; malleable signatures are refused), then
    /// EIP-1271 for authors that are contract wallets (or EIP-7702-delegated accounts).
    function _isValidSignature(address author, bytes32 digest, bytes calldata signature) private view returns (bool) {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && signer == author) return true;
        return author.code.length != 0 && _isValidWalletSignature(author, digest, signature);
    }

    /// @dev OpenZeppelin's SignatureChecker forwards all remaining gas, so one wallet that
    /// burns it sinks the whole batch. Here the wallet gets exactly WALLET_CHECK_GAS: no
    /// more (a burner costs the batch at most that and is refused), and no less (if less
    /// is left, the whole transaction reverts, so a sender cannot starve a valid wallet's
    /// check into a BadSignature). Only the first 32 bytes of the answer are copied.
    function _isValidWalletSignature(
        address wallet,
        bytes32 digest,
        bytes calldata signature
    ) private view returns (bool result) {
        // By EIP-150 a call gets at most 63/64 of what is left; the margin pays for the
        // encoding below and the call itself (the wallet's account is already warm).
        if (gasleft() < WALLET_CHECK_GAS + WALLET_CHECK_GAS / 63 + 5_000) revert InsufficientGasForWalletCheck();
        bytes4 selector = IERC1271.isValidSignature.selector;
        uint256 length = signature.length;
        uint256 gasLimit = WALLET_CHECK_GAS;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), digest)
            mstore(add(ptr, 0x24), 0x40)
            mstore(add(ptr, 0x44), length)
            calldatacopy(add(ptr, 0x64), signature.offset, length)
            mstore(add(add(ptr, 0x64), length), 0)
            let padded := shl(5, shr(5, add(length, 0x1f)))
            let success := staticcall(gasLimit, wallet, ptr, add(padded, 0x64), 0x00, 0x20)
            result := and(success, and(gt(returndatasize(), 0x1f), eq(mload(0x00), selector)))
        }
    }

    function _revertWith(Reason reason, SignedMessage calldata m, Channel memory c, Limits memory lim) private view {
        if (reason == Reason.UnknownChannel) revert UnknownChannel(m.channel);
        if (reason == Reason.ChannelClosed) revert ChannelIsClosed(m.channel);
        if (reason == Reason.EmptyBody) revert EmptyBody();
        if (reason == Reason.BodyTooLarge) revert BodyTooLarge(m.body.length, lim.maxBodyBytes);
        if (reason == Reason.UnknownContentType) revert UnknownContentType(m.contentType);
        if (reason == Reason.TimestampInFuture) revert TimestampInFuture(m.timestamp, block.timestamp + lim.maxFutureSkew);
        if (reason == Reason.MessageExpired) revert MessageExpired(m.timestamp, block.timestamp - lim.maxAge);
        if (reason == Reason.UnknownReply) revert UnknownReply(m.replyTo, c.seq);
        if (reason == Reason.NotMember) revert NotMember(m.channel, m.author);
        if (reason == Reason.NonceUsed) revert NonceUsed(m.author, m.nonce);
        revert BadSignature(m.author);
    }

    function _nonZero(address admin) private pure returns (address) {
        if (admin == address(0)) revert InvalidAdmin();
        return admin;
    }

    function _setLimits(Limits memory newLimits) private {
        if (newLimits.maxBodyBytes == 0 || newLimits.maxAge == 0) revert InvalidLimits();
        _limits = newLimits;
        emit LimitsChanged(newLimits.maxBodyBytes, newLimits.maxAge, newLimits.maxFutureSkew);
    }

    function _setContentType(uint8 contentType, bool known) private {
        if (known) {
            _knownContentTypes |= uint256(1) << contentType;
        } else {
            _knownContentTypes &= ~(uint256(1) << contentType);
        }
        emit ContentTypeChanged(contentType, known);
    }

    function _freeMemoryPointer() private pure returns (uint256 pointer) {
        assembly ("memory-safe") {
            pointer := mload(0x40)
        }
    }

    function _setFreeMemoryPointer(uint256 pointer) private pure {
        assembly ("memory-safe") {
            mstore(0x40, pointer)
        }
    }
}
