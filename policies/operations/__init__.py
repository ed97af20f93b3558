"""Operations: containers come back after a crash and cannot fill the disk with logs."""
