import { Type } from '@sinclair/typebox';

const Id = Type.String({ minLength: 1, maxLength: 100 });

export const OrganizationSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    slug: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Organization' },
);
const MemberSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  roles: Type.Array(Type.String(), { description: 'Roles held within this organization' }),
  joinedAt: Type.String({ format: 'date-time' }),
});
export const OrganizationDetailResponse = Type.Object({
  organization: Type.Object({
    id: Type.String(),
    name: Type.String(),
    slug: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    members: Type.Array(MemberSchema),
    invitations: Type.Array(
      Type.Object({
        id: Type.String(),
        email: Type.String(),
        expiresAt: Type.String({ format: 'date-time' }),
        createdAt: Type.String({ format: 'date-time' }),
      }),
    ),
  }),
});
export const OrganizationBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    slug: Type.String({
      pattern: '^[a-z0-9][a-z0-9-]{1,62}$',
      description: 'Lower-case letters, digits, dashes',
    }),
  },
  { additionalProperties: false },
);
export const OrganizationResponse = Type.Object({ organization: OrganizationSchema });
export const OrganizationsResponse = Type.Object({ organizations: Type.Array(OrganizationSchema) });
export const OrganizationParams = Type.Object({ organization: Id });
export const OrganizationMemberParams = Type.Object({ organization: Id, userId: Id });
export const OrganizationRoleParams = Type.Object({ organization: Id, userId: Id, role: Id });
export const InvitationBody = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 254 }),
    role: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'A role to hold in the organization' }),
    ),
  },
  { additionalProperties: false },
);
export const InvitationResponse = Type.Object({
  invitation: Type.Object({
    id: Type.String(),
    email: Type.String(),
    expiresAt: Type.String({ format: 'date-time' }),
  }),
});
export const AcceptInvitationBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
export const MyOrganizationsResponse = Type.Object({
  organizations: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      slug: Type.String(),
      roles: Type.Array(Type.String()),
    }),
  ),
});
export const MembersResponse = Type.Object({ members: Type.Array(MemberSchema) });
