// pm2 ecosystem for Orchestra: `pm2 start scripts/deploy/ecosystem.config.js`.
// pm2 stops processes with SIGINT then SIGKILL after kill_timeout; both daemons shut down
// cleanly on SIGINT.
module.exports = {
  apps: [
    {
      name: "orchestra-miner",
      script: "/usr/local/bin/miner",
      args: "--config /etc/orchestra/miner.toml",
      interpreter: "none",
      autorestart: true,
      kill_timeout: 30000,
      env: { RUST_LOG: "info" },
    },
    {
      name: "orchestra-validator",
      script: "/usr/local/bin/validator",
      args: "--config /etc/orchestra/validator.toml",
      interpreter: "none",
      autorestart: true,
      kill_timeout: 30000,
      env: { RUST_LOG: "info" },
    },
  ],
};
