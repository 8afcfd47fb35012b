// SPDX-License-Identifier: MIT
// A minimal EIP-1271 contract wallet owned by one EOA, for the SIWE contract-wallet test.
//
// SIWE verifiers (the siwe npm library, and StreamGate) call
// isValidSignature(eip191Hash(message), signature), where the signature is the owner's
// personal_sign over the SIWE text; so the owner is recovered from `hash` as given, with no
// further prefixing.
pragma solidity ^0.8.20;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

contract TestWallet1271 is IERC1271, IERC721Receiver, IERC1155Receiver {
    bytes4 internal constant kMagic = 0x1626ba7e;
    bytes4 internal constant kInvalid = 0xffffffff;

    address public owner;

    constructor(address initialOwner) {
        owner = initialOwner;
    }

    function isValidSignature(bytes32 hash, bytes memory signature)
        external
        view
        override
        returns (bytes4)
    {
        // tryRecover, not recover: a malformed or high-s signature must answer "invalid",
        // not revert, so verifiers see the documented 0xffffffff.
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && signer == owner) {
            return kMagic;
        }
        return kInvalid;
    }

    // The wallet can receive NFTs through safeTransferFrom / safe mints.
    function onERC721Received(address, address, uint256, bytes calldata)
        external
        pure
        override
        returns (bytes4)
    {
        return IERC721Receiver.onERC721Received.selector;
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata)
        external
        pure
        override
        returns (bytes4)
    {
        return IERC1155Receiver.onERC1155Received.selector;
    }

    function onERC1155BatchReceived(
        address,
        address,
        uint256[] calldata,
        uint256[] calldata,
        bytes calldata
    ) external pure override returns (bytes4) {
        return IERC1155Receiver.onERC1155BatchReceived.selector;
    }

    function supportsInterface(bytes4 interfaceId) external pure override returns (bool) {
        return interfaceId == type(IERC165).interfaceId ||
            interfaceId == type(IERC1271).interfaceId ||
            interfaceId == type(IERC721Receiver).interfaceId ||
            interfaceId == type(IERC1155Receiver).interfaceId;
    }
}
