// SPDX-License-Identifier: MIT
// Test-only ERC-1155 for StreamGate's integration tests: the deployer mints any amount of any id.
pragma solidity ^0.8.20;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract TestMulti1155 is ERC1155, Ownable {
    constructor() ERC1155("https://example.invalid/{id}.json") Ownable(msg.sender) {}

    function mint(address to, uint256 id, uint256 amount) external onlyOwner {
        _mint(to, id, amount, "");
    }
}
