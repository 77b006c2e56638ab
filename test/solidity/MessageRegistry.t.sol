// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MessageRegistry} from "../../contracts/MessageRegistry.sol";
import {IMessageRegistry} from "../../contracts/interfaces/IMessageRegistry.sol";
import {WithVm, Vm} from "./Vm.sol";

/// @notice Fuzzes random mixes of good and bad messages, posted in random batches, and
/// checks the invariants: seq stays contiguous, every message gets exactly one outcome,
/// and the head rebuilt from the emitted events alone equals the stored head.
contract MessageRegistryFuzzTest is WithVm {
    bytes32 internal constant CHANNEL = bytes32("general");
    uint256 internal constant MEMBERS = 4; // keys 1..4 are members, 5..6 are not
    bytes32 internal constant POSTED = keccak256("MessagePosted(bytes32,uint64,address)");
    bytes32 internal constant REJECTED = keccak256("MessageRejected(bytes32,address,bytes32,uint8)");

    MessageRegistry internal registry;
    uint64 internal expectedSeq;
    bytes32 internal rebuiltHead;

    function setUp() public {
        vm.warp(1_800_000_000);
        registry = new MessageRegistry(
            address(this),
            IMessageRegistry.Limits({maxBodyBytes: 64, maxAge: 3600, maxFutureSkew: 300})
        );
        registry.createChannel(CHANNEL, address(this));
        for (uint256 key = 1; key <= MEMBERS; ++key) {
            registry.grantRole(registry.memberRole(CHANNEL), vm.addr(key));
        }
    }

    function testFuzz_SeqContiguousAndHeadRebuiltFromEvents(uint256 seed, uint8 rounds) public {
        rounds = uint8(bound(rounds, 1, 4));
        for (uint256 round = 0; round < rounds; ++round) {
            uint256 size = bound(uint256(keccak256(abi.encode(seed, round))), 1, 12);
            IMessageRegistry.SignedMessage[] memory batch = new IMessageRegistry.SignedMessage[](size);
            for (uint256 i = 0; i < size; ++i) {
                batch[i] = _randomMessage(uint256(keccak256(abi.encode(seed, round, i))));
            }
            vm.recordLogs();
            registry.postBatch(_pack(batch));
            _checkLogs(vm.getRecordedLogs(), size);
        }
        (, , uint64 seq, bytes32 head) = registry.channelInfo(CHANNEL);
        assertEq(uint256(seq), uint256(expectedSeq), "stored seq");
        assertEq(head, rebuiltHead, "stored head equals head rebuilt from events");
    }

    /// @dev The fuzz mix must actually post: a fixed seed whose outcome is known.
    function test_MixedBatchesPostSomeAndRejectSome() public {
        testFuzz_SeqContiguousAndHeadRebuiltFromEvents(42, 4);
        require(expectedSeq > 0, "some messages posted");
        require(expectedSeq < 4 * 12, "not every message posted");
    }

    function _randomMessage(uint256 r) internal view returns (IMessageRegistry.SignedMessage memory m) {
        uint256 key = 1 + (r % 6);
        m.channel = (r >> 8) % 16 == 0 ? bytes32("elsewhere") : CHANNEL;
        m.author = vm.addr(key);
        m.body = new bytes((r >> 16) % 70); // 0 is empty, above 64 is too large
        for (uint256 j = 0; j < m.body.length; ++j) m.body[j] = bytes1(uint8(r >> (j % 200)));
        m.contentType = (r >> 24) % 10 == 0 ? 9 : 1;
        m.timestamp = uint64(block.timestamp - ((r >> 32) % 10 == 0 ? 4000 : 0));
        m.replyTo = (r >> 40) % 4 == 0 ? expectedSeq + uint64((r >> 48) % 3) : 0;
        m.nonce = (r >> 56) % 8; // small range: replays happen
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign((r >> 64) % 10 == 0 ? 7 : key, registry.digestOf(m));
        m.signature = abi.encodePacked(rr, s, v);
    }

    function _checkLogs(Vm.Log[] memory logs, uint256 size) internal {
        uint256 outcomes;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] == REJECTED) {
                ++outcomes;
            } else if (logs[i].topics[0] == POSTED) {
                ++outcomes;
                assertEq(uint256(logs[i].topics[2]), uint256(expectedSeq) + 1, "seq is contiguous");
                expectedSeq += 1;
                bytes32 digest = registry.digestOf(_messageFromLog(logs[i]));
                rebuiltHead = keccak256(abi.encode(rebuiltHead, digest, uint256(expectedSeq)));
                _checkHead(logs[i].data);
            }
        }
        assertEq(outcomes, size, "one outcome per message");
    }

    /// @dev The packed MessagePosted data: contentType 1, timestamp 8, R 1, replyTo R,
    /// N 1, nonce N, head 32, signature length 2, signature, body.
    function _messageFromLog(Vm.Log memory log) internal pure returns (IMessageRegistry.SignedMessage memory m) {
        bytes memory d = log.data;
        m.channel = log.topics[1];
        m.author = address(uint160(uint256(log.topics[3])));
        m.contentType = uint8(d[0]);
        m.timestamp = uint64(uint256(_word(d, 1)) >> 192);
        uint256 rl = uint8(d[9]);
        m.replyTo = rl == 0 ? 0 : uint64(uint256(_word(d, 10)) >> (256 - 8 * rl));
        uint256 at = 10 + rl;
        uint256 nl = uint8(d[at]);
        m.nonce = nl == 0 ? 0 : uint256(_word(d, at + 1)) >> (256 - 8 * nl);
        at += 1 + nl + 32;
        uint256 sigLength = uint256(_word(d, at)) >> 240;
        m.signature = _slice(d, at + 2, sigLength);
        m.body = _slice(d, at + 2 + sigLength, d.length - at - 2 - sigLength);
    }

    /// @dev The packed postBatch argument (see IMessageRegistry.postBatch): a run per
    /// stretch of adjacent messages of one channel.
    function _pack(IMessageRegistry.SignedMessage[] memory batch) internal pure returns (bytes memory out) {
        for (uint256 i = 0; i < batch.length; ++i) {
            IMessageRegistry.SignedMessage memory m = batch[i];
            if (i == 0 || batch[i - 1].channel != m.channel) {
                uint256 n = 1;
                while (i + n < batch.length && batch[i + n].channel == m.channel) ++n;
                out = abi.encodePacked(out, m.channel, uint16(n));
            }
            out = abi.encodePacked(
                out,
                abi.encodePacked(m.author, m.contentType, m.timestamp, _minimal(m.replyTo), _minimal(m.nonce)),
                abi.encodePacked(uint32(m.body.length), uint16(m.signature.length), m.body, m.signature)
            );
        }
    }

    /// @dev The head in MessagePosted's data (after the replyTo and nonce fields) is the rebuilt one.
    function _checkHead(bytes memory d) internal view {
        uint256 at = 10 + uint8(d[9]);
        at += 1 + uint8(d[at]);
        require(_word(d, at) == rebuiltHead, "event head");
    }

    /// @dev A length byte and the value's big-endian bytes without leading zeros.
    function _minimal(uint256 v) internal pure returns (bytes memory out) {
        uint256 n = 0;
        for (uint256 x = v; x != 0; x >>= 8) ++n;
        out = new bytes(1 + n);
        out[0] = bytes1(uint8(n));
        for (uint256 i = 0; i < n; ++i) out[1 + i] = bytes1(uint8(v >> (8 * (n - 1 - i))));
    }

    function _word(bytes memory d, uint256 at) internal pure returns (bytes32 w) {
        assembly ("memory-safe") {
            w := mload(add(add(d, 0x20), at))
        }
    }

    function _slice(bytes memory d, uint256 at, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 j = 0; j < length; ++j) out[j] = d[at + j];
    }

    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + (x % (max - min + 1));
    }

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        require(a == b, what);
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        require(a == b, what);
    }
}
