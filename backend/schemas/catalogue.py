from marshmallow import Schema, fields


class CategoryOut(Schema):
    """A category as the mini-program shows it; sub-categories name their parent's code."""

    code = fields.String()
    name = fields.String()
    description = fields.String()
    icon = fields.String()
    parent = fields.Function(lambda category: category.parent.code if category.parent else None)
    deadline_hours = fields.Integer(attribute="effective_deadline_hours")
