// SPDX-License-Identifier: MIT
// Test-only ERC-721 for StreamGate's integration tests: the deployer mints any id to anyone.
pragma solidity ^0.8.20;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract TestNft721 is ERC721, Ownable {
    constructor() ERC721("StreamGate Test NFT", "SGNFT") Ownable(msg.sender) {}

    function mint(address to, uint256 id) external onlyOwner {
        _mint(to, id);
    }
}
