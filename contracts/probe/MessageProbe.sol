// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev The registry views the probe asks (a subset of IMessageRegistry and AccessControl).
interface IRegistryViews {
    function isNonceUsed(address author, uint256 nonce) external view returns (bool);
    function hasRole(bytes32 role, address account) external view returns (bool);
    function memberRole(bytes32 channel) external pure returns (bytes32);
}

/**
 * @title MessageProbe
 * @notice Never deployed. The relayer runs this contract's creation code in an
 * `eth_call` without a `to` address; the constructor's `return` is the call's result.
 * One call answers the pre-checks that need the chain for a whole batch of messages:
 * whether the author's nonce is used, whether the author is a member of the channel,
 * and, when the relayer cannot recover signers cheaply itself, who signed the digest
 * (the node's native ecrecover).
 * @dev `signatures` is empty (the relayer recovered the signers with libsecp256k1) or
 * has one entry per item. Result word per item: bits 0..159 the recovered signer (0 if
 * none, or not asked), bit 160 nonce used, bit 161 member (clear, not asked, for an item
 * whose channel is zero).
 */
contract MessageProbe {
    struct Item {
        address author;
        uint256 nonce;
        bytes32 channel;
    }

    struct Signed {
        bytes32 digest;
        bytes32 r;
        bytes32 s;
        uint8 v;
    }

    error SignatureCountMismatch(uint256 items, uint256 signatures);

    constructor(IRegistryViews registry, Item[] memory items, Signed[] memory signatures) {
        bool recover = signatures.length != 0;
        if (recover && signatures.length != items.length) revert SignatureCountMismatch(items.length, signatures.length);
        uint256[] memory out = new uint256[](items.length);
        // A batch is mostly one channel: its member role is asked once per run of items
        // in the same channel, not once per item (an external call is about a seventh of
        // an item's cost on Hardhat's node).
        bytes32 roleChannel;
        bytes32 role;
        for (uint256 i = 0; i < items.length; ++i) {
            Item memory it = items[i];
            uint256 word;
            if (recover) {
                Signed memory sig = signatures[i];
                word = uint256(uint160(ecrecover(sig.digest, sig.v, sig.r, sig.s)));
            }
            if (registry.isNonceUsed(it.author, it.nonce)) word |= uint256(1) << 160;
            // Channel zero: the relayer knows the author is a member (its cache, which
            // follows RoleRevoked) and does not ask; the member bit stays clear.
            if (it.channel != bytes32(0)) {
                if (it.channel != roleChannel) {
                    roleChannel = it.channel;
                    role = registry.memberRole(it.channel);
                }
                if (registry.hasRole(role, it.author)) word |= uint256(1) << 161;
            }
            out[i] = word;
        }
        bytes memory encoded = abi.encode(out);
        assembly {
            return(add(encoded, 32), mload(encoded))
        }
    }
}
