from marshmallow import Schema, fields


class CategoryOut(Schema):
    code = fields.String()
    name = fields.String()
    description = fields.String()
    deadline_hours = fields.Integer(attribute="effective_deadline_hours")


class UnitOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    parent_id = fields.Integer(allow_none=True)
    active = fields.Boolean()
