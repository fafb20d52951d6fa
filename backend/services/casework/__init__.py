"""A case from 受理 to 办结: intake, the state machine, reads scoped to who asks, deadlines in working time,
督办 and 延期."""
