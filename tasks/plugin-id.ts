/** The id Hardhat knows the ChainMail plugin by; it prefixes the plugin's error messages. */
export const PLUGIN_ID = "chainmail";
