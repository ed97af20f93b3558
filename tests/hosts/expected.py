"""The figures the host tests hold the roles to, typed by hand.

Not read from roles/*/defaults: if a role's default drifts from what is written here (a
password age of 9999 days, a log kept one day, a weaker cipher), the host tests fail. The
sources are the owners' figures (docs/DESIGN §1: json-file logs 10 MiB x 3, TLS minimums, 7-day
backup retention), the CIS/dev-sec baselines the roles follow, and ssh-audit's clean list.
Inventory variables still override these (an operator's choice for a site, not the role's),
through lab_support.role_vars. Paths and names are here too, so that a test never needs to
open a defaults file. `"{{ ansible_host }}"` means "the host's own lab address".
"""

from __future__ import annotations

from typing import Any

COMMON: dict[str, Any] = {
    "common_apt_proxy": "",
    "common_banner_text": (
        "Authorized uses only. All activity on this system is monitored and recorded.\n"
        "Unauthorized access is prohibited and will be reported to law enforcement.\n"
    ),
    "common_cron_allow_users": ["root"],
    "common_file_integrity_enabled": True,
    "common_malware_scanner_enabled": False,
    "common_malware_scanner_package": "chkrootkit",
    "common_packages": [
        "lynis", "apt-show-versions", "libpam-tmpdir", "ca-certificates", "debsums", "needrestart",
        "less", "logrotate", "rsyslog", "cron", "procps", "iproute2",
    ],
    "common_packages_extra": [],
    "common_password_aging_users": ["root"],
    # CIS: SHA-512 with at least 65536 rounds; passwords expire within a year, may change
    # once a day, warn two weeks ahead; logins time out after 15 idle minutes; umask 027.
    "common_password_hash_rounds": 65536,
    "common_password_max_days": 365,
    "common_password_min_days": 1,
    "common_password_warn_age": 14,
    "common_shell_timeout": 900,
    # New passwords: at least 14 characters (NIST 800-63B / CIS 5.4.1).
    "common_password_quality_minlen": 14,
    "common_umask": "027",
    "common_purge_packages": [
        "telnet", "inetutils-telnet", "rsh-client", "rsh-server", "talk", "nis", "xinetd",
        "tftp", "gcc", "g++", "cpp", "make", "exim4-base", "exim4-config", "exim4-daemon-light",
    ],
    "common_restricted_binaries": [
        "/usr/bin/x86_64-linux-gnu-as", "/usr/bin/x86_64-linux-gnu-ld.bfd",
        "/usr/bin/x86_64-linux-gnu-ld.gold",
    ],
    "common_sudo_logfile": "/var/log/sudo.log",
    "common_time_sync_pools": ["2.debian.pool.ntp.org"],
    "common_time_sync_servers": [],
    # Security origins only; no unattended reboot unless a site asks for one.
    "common_unattended_upgrades_origins": [
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
        "origin=Ubuntu,archive=${distro_codename}-security",
    ],
    "common_unattended_upgrades_reboot": False,
    "common_unattended_upgrades_reboot_time": "03:30",
    "common_apt_cache_valid_time": 3600,
}

AUDITD: dict[str, Any] = {
    # 8 files of 32 MiB, rotated; low space warns, then logging suspends (never a halt).
    "auditd_max_log_file": 32,
    "auditd_num_logs": 8,
    "auditd_max_log_file_action": "rotate",
    "auditd_space_left_action": "syslog",
    "auditd_admin_space_left_action": "suspend",
    "auditd_disk_full_action": "suspend",
    "auditd_immutable": True,
}

DOCKER_ENGINE: dict[str, Any] = {
    "docker_engine_config_path": "/etc/docker/daemon.json",
    "docker_engine_source": "debian",
    # DESIGN §1: json-file logs, 10 MiB x 3 files per container.
    "docker_engine_log_driver": "json-file",
    "docker_engine_log_max_size": "10m",
    "docker_engine_log_max_file": 3,
    # CIS Docker: no inter-container traffic by default, no userland proxy, no new
    # privileges, containers survive a daemon restart, no core dumps.
    "docker_engine_icc": False,
    "docker_engine_userland_proxy": False,
    "docker_engine_no_new_privileges": True,
    "docker_engine_live_restore": True,
    "docker_engine_default_ulimits": {
        "nofile": {"soft": 32768, "hard": 65536},
        "core": {"soft": 0, "hard": 0},
    },
}

FAIL2BAN: dict[str, Any] = {
    # Three failures ban an address; bans live in nftables sets of fail2ban's own table.
    "fail2ban_sshd_maxretry": 3,
    "fail2ban_banaction": "nftables-multiport",
    "fail2ban_banaction_allports": "nftables-allports",
}

FIREWALL: dict[str, Any] = {
    "firewall_table": "rampart_filter",
    "firewall_config_path": "/etc/nftables.conf",
    "firewall_ssh_port": 22,
    # Nothing but SSH is open unless the inventory opens it.
    "firewall_common_services": [],
    "firewall_services": [],
}

KERNEL_HARDENING: dict[str, Any] = {
    "kernel_hardening_sysctl_file": "/etc/sysctl.d/90-rampart-hardening.conf",
    "kernel_hardening_modules_file": "/etc/modprobe.d/rampart-blacklist.conf",
    "kernel_hardening_ip_forward_enabled": False,
    # CIS Debian 12 §3.3 (network) and KSPP (kernel), value by value.
    "kernel_hardening_sysctl_network": {
        "net.ipv4.conf.all.rp_filter": 1,
        "net.ipv4.conf.default.rp_filter": 1,
        "net.ipv4.tcp_syncookies": 1,
        "net.ipv4.conf.all.accept_redirects": 0,
        "net.ipv4.conf.default.accept_redirects": 0,
        "net.ipv4.conf.all.secure_redirects": 0,
        "net.ipv4.conf.default.secure_redirects": 0,
        "net.ipv4.conf.all.send_redirects": 0,
        "net.ipv4.conf.default.send_redirects": 0,
        "net.ipv6.conf.all.accept_redirects": 0,
        "net.ipv6.conf.default.accept_redirects": 0,
        "net.ipv4.conf.all.accept_source_route": 0,
        "net.ipv4.conf.default.accept_source_route": 0,
        "net.ipv6.conf.all.accept_source_route": 0,
        "net.ipv6.conf.default.accept_source_route": 0,
        "net.ipv4.conf.all.log_martians": 1,
        "net.ipv4.conf.default.log_martians": 1,
        "net.ipv4.conf.all.proxy_arp": 0,
        "net.ipv4.conf.all.bootp_relay": 0,
        "net.ipv4.icmp_echo_ignore_broadcasts": 1,
        "net.ipv4.icmp_ignore_bogus_error_responses": 1,
        "net.ipv4.tcp_timestamps": 0,
        "net.ipv6.conf.all.accept_ra": 0,
        "net.ipv6.conf.default.accept_ra": 0,
    },
    "kernel_hardening_sysctl_kernel": {
        "kernel.kptr_restrict": 2,
        "kernel.dmesg_restrict": 1,
        "kernel.yama.ptrace_scope": 1,
        "kernel.unprivileged_bpf_disabled": 1,
        "net.core.bpf_jit_harden": 2,
        "kernel.perf_event_paranoid": 3,
        "kernel.kexec_load_disabled": 1,
        "kernel.randomize_va_space": 2,
        "kernel.sysrq": 0,
        "kernel.core_uses_pid": 1,
        "kernel.ctrl-alt-del": 0,
        "dev.tty.ldisc_autoload": 0,
        "fs.protected_hardlinks": 1,
        "fs.protected_symlinks": 1,
        "fs.protected_fifos": 2,
        "fs.protected_regular": 2,
        "fs.suid_dumpable": 0,
    },
    "kernel_hardening_sysctl_extra": {},
    # CIS §1.1.1 (file systems) and §3.2 (network protocols), plus USB storage and FireWire.
    "kernel_hardening_modules_blacklist": [
        "cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "udf",
        "dccp", "sctp", "rds", "tipc", "usb-storage", "firewire-core",
    ],
    # CIS §1.1.2-1.1.8: /tmp and /dev/shm without devices, setuid or executables.
    "kernel_hardening_mounts": [
        {"path": "/tmp", "fstype": "tmpfs", "source": "tmpfs",  # noqa: S108 (a mount point)
         "options": ["nodev", "nosuid", "noexec", "mode=1777", "size=25%"]},
        {"path": "/dev/shm", "fstype": "tmpfs", "source": "tmpfs",  # noqa: S108
         "options": ["nodev", "nosuid", "noexec"]},
    ],
}

NODE_EXPORTER: dict[str, Any] = {
    "node_exporter_listen_address": "{{ ansible_host }}",  # never 0.0.0.0
    "node_exporter_port": 9100,
    "node_exporter_textfile_directory": "/var/lib/prometheus/node-exporter",
    "node_exporter_textfile_owner": "prometheus",
    "node_exporter_textfile_group": "prometheus",
    "node_exporter_textfile_mode": "0755",
}

OPENBAO: dict[str, Any] = {
    "openbao_listen_address": "{{ ansible_host }}",
    "openbao_port": 8200,
    "openbao_cluster_port": 8201,
    "openbao_config_dir": "/etc/openbao",
    "openbao_user": "openbao",
    "openbao_data_dir": "/var/lib/openbao",
    "openbao_log_dir": "/var/log/openbao",
    "openbao_storage": "raft",
    "openbao_audit_device_path": "file",
    "openbao_audit_log_path": "{{ openbao_log_dir }}/audit.log",
    # DESIGN §1: TLS 1.2 at least. OpenBao 2.x does not mlock, so the unit allows no locked
    # memory (and needs no CAP_IPC_LOCK).
    "openbao_tls_min_version": "tls12",
    "openbao_limit_memlock": "0",
    "openbao_lab_init_key_shares": 3,
}

PGBACKREST: dict[str, Any] = {
    # DESIGN §1: 7-day retention; a full backup daily, incrementals every 6 hours.
    "pgbackrest_retention_full_days": 7,
    "pgbackrest_full_schedule": "*-*-* 01:00:00",
    "pgbackrest_incr_schedule": "*-*-* 00/6:30:00",
}

POSTGRESQL: dict[str, Any] = {
    "postgresql_listen_addresses": ["{{ ansible_host }}", "127.0.0.1"],
    "postgresql_port": 5432,
    "postgresql_client_group": "app",
    "postgresql_tls_min_protocol": "TLSv1.2",
    # DESIGN §1: max_connections 400, shared_buffers 256MB, work_mem 4MB; statements slower
    # than 100 ms are logged, pg_stat_statements is loaded.
    "postgresql_max_connections": 400,
    "postgresql_shared_buffers": "256MB",
    "postgresql_work_mem": "4MB",
    "postgresql_log_min_duration_ms": 100,
    "postgresql_shared_preload_libraries": ["pg_stat_statements"],
}

PROMETHEUS: dict[str, Any] = {
    "prometheus_listen_address": "{{ ansible_host }}",
    "prometheus_port": 9090,
    "prometheus_alertmanager_port": 9093,
    "prometheus_retention_time": "15d",
}

SSH_HARDENING: dict[str, Any] = {
    "ssh_hardening_port": 22,
    "ssh_hardening_allow_groups": ["ssh-users"],
    "ssh_hardening_permit_root_login": "no",
    "ssh_hardening_max_auth_tries": 3,
    "ssh_hardening_max_sessions": 2,
    "ssh_hardening_login_grace_time": 30,
    "ssh_hardening_client_alive_interval": 300,
    "ssh_hardening_client_alive_count_max": 2,
    "ssh_hardening_log_level": "VERBOSE",
    # ssh-audit 3.9's list with neither failure nor warning (post-quantum key exchange only).
    "ssh_hardening_kex_algorithms": ["sntrup761x25519-sha512@openssh.com"],
    "ssh_hardening_ciphers": [
        "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
        "aes256-ctr", "aes192-ctr", "aes128-ctr",
    ],
    "ssh_hardening_macs": [
        "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com",
        "umac-128-etm@openssh.com",
    ],
    "ssh_hardening_host_key_algorithms": ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"],
    "ssh_hardening_host_key_types": ["ed25519", "rsa"],
    "ssh_hardening_rsa_min_bits": 3072,
    "ssh_hardening_moduli_min_bits": 3072,
}

EXPECTED: dict[str, dict[str, Any]] = {
    "common": COMMON,
    "auditd": AUDITD,
    "docker_engine": DOCKER_ENGINE,
    "fail2ban": FAIL2BAN,
    "firewall": FIREWALL,
    "kernel_hardening": KERNEL_HARDENING,
    "node_exporter": NODE_EXPORTER,
    "openbao": OPENBAO,
    "pgbackrest": PGBACKREST,
    "postgresql": POSTGRESQL,
    "prometheus": PROMETHEUS,
    "ssh_hardening": SSH_HARDENING,
}
