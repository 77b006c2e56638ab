// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A hostile contract wallet for tests: its owner's signatures are valid, but when
/// the check is given more than `burnAbove` gas it burns all of it instead of answering
/// (0: always burns). With a high threshold it passes a small per-message simulation.
contract TestGasBurnerWallet is IERC1271 {
    address public immutable owner;
    uint256 public immutable burnAbove;

    constructor(address owner_, uint256 burnAbove_) {
        owner = owner_;
        burnAbove = burnAbove_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (gasleft() > burnAbove) {
            assembly {
                invalid()
            }
        }
        (address signer, , ) = ECDSA.tryRecoverCalldata(hash, signature);
        return signer == owner ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }
}
