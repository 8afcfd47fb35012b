// SPDX-License-Identifier: MIT
// Test-only ERC-20 (18 decimals) for StreamGate's integration tests: the deployer mints.
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract TestToken20 is ERC20, Ownable {
    constructor() ERC20("StreamGate Test Token", "SGT") Ownable(msg.sender) {}

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
