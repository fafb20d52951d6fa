from marshmallow import Schema, fields, validate

# what a staff login takes; accounts are made (and passwords set) only within them, or they could never sign in
MAX_USERNAME_LENGTH = 64
MAX_PASSWORD_LENGTH = 256


class WeChatLoginIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128))


class DevLoginIn(Schema):
    openid = fields.String(required=True, validate=validate.Length(min=1, max=48))


class StaffLoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=MAX_USERNAME_LENGTH))
    password = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PASSWORD_LENGTH))


class UnitRefOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class UserOut(Schema):
    id = fields.Integer()


class CitizenSessionOut(Schema):
    token = fields.String()
    expires_in = fields.Integer()
    user = fields.Nested(UserOut)


class StaffOut(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    unit = fields.Nested(UnitRefOut, allow_none=True)


class StaffSessionOut(Schema):
    token = fields.String()
    expires_in = fields.Integer()
    staff = fields.Nested(StaffOut)


class StaffUnlockedOut(Schema):
    staff = fields.Nested(StaffOut)
    was_locked = fields.Boolean()
    failed_attempts = fields.Integer()
