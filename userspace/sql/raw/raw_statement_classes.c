/*
 * The classes of the statement types that need no special handling in the
 * walker, and the usage their directly named relations get. A statement type
 * that is in neither this table nor the walker is "unknown".
 */
#include "raw_walk.h"

#define CLS(c) PGW_CLASS_BIT(c)
#define DDL_CREATE (CLS(DDL) | CLS(CREATE))
#define DDL_ALTER (CLS(DDL) | CLS(ALTER))
#define DDL_DROP (CLS(DDL) | CLS(DROP))

pgw_statement_info
pgw_classify_statement(NodeTag tag)
{
	switch (tag)
	{
		case T_CreateStmt:
		case T_CreateForeignTableStmt:
		case T_CreateTableAsStmt:
		case T_ViewStmt:
		case T_IndexStmt:
		case T_CreateSeqStmt:
		case T_CreateSchemaStmt:
		case T_CreateFunctionStmt:
		case T_CreateTrigStmt:
		case T_RuleStmt:
		case T_CreateDomainStmt:
		case T_CompositeTypeStmt:
		case T_CreateEnumStmt:
		case T_CreateRangeStmt:
		case T_DefineStmt:
		case T_CreateCastStmt:
		case T_CreateConversionStmt:
		case T_CreateOpClassStmt:
		case T_CreateOpFamilyStmt:
		case T_CreateFdwStmt:
		case T_CreateForeignServerStmt:
		case T_CreateUserMappingStmt:
		case T_ImportForeignSchemaStmt:
		case T_CreateTableSpaceStmt:
		case T_CreatedbStmt:
		case T_CreateEventTrigStmt:
		case T_CreatePLangStmt:
		case T_CreateTransformStmt:
		case T_CreateAmStmt:
		case T_CreatePublicationStmt:
		case T_CreateSubscriptionStmt:
		case T_CreateStatsStmt:
		case T_CreatePolicyStmt:
		case T_CreateExtensionStmt:
			return (pgw_statement_info){true, DDL_CREATE, PGW_USE_DDL};
		case T_AlterTableStmt:
		case T_AlterTableMoveAllStmt:
		case T_AlterDomainStmt:
		case T_RenameStmt:
		case T_AlterObjectSchemaStmt:
		case T_AlterOwnerStmt:
		case T_AlterObjectDependsStmt:
		case T_AlterSeqStmt:
		case T_AlterFunctionStmt:
		case T_AlterEnumStmt:
		case T_AlterTypeStmt:
		case T_AlterOperatorStmt:
		case T_AlterOpFamilyStmt:
		case T_AlterFdwStmt:
		case T_AlterForeignServerStmt:
		case T_AlterUserMappingStmt:
		case T_AlterTableSpaceOptionsStmt:
		case T_AlterDatabaseStmt:
		case T_AlterDatabaseSetStmt:
		case T_AlterDatabaseRefreshCollStmt:
		case T_AlterEventTrigStmt:
		case T_AlterExtensionStmt:
		case T_AlterExtensionContentsStmt:
		case T_AlterPublicationStmt:
		case T_AlterSubscriptionStmt:
		case T_AlterStatsStmt:
		case T_AlterPolicyStmt:
		case T_AlterCollationStmt:
		case T_AlterTSDictionaryStmt:
		case T_AlterTSConfigurationStmt:
		case T_CommentStmt:
		case T_SecLabelStmt:
			return (pgw_statement_info){true, DDL_ALTER, PGW_USE_DDL};
		case T_DropTableSpaceStmt:
		case T_DropdbStmt:
		case T_DropUserMappingStmt:
		case T_DropSubscriptionStmt:
			return (pgw_statement_info){true, DDL_DROP, PGW_USE_DDL};
		case T_CreateRoleStmt:
			return (pgw_statement_info){true, CLS(GRANT) | DDL_CREATE, PGW_USE_DDL};
		case T_AlterRoleStmt:
		case T_AlterRoleSetStmt:
		case T_AlterDefaultPrivilegesStmt:
		case T_ReassignOwnedStmt:
			return (pgw_statement_info){true, CLS(GRANT) | DDL_ALTER, PGW_USE_DDL};
		case T_DropRoleStmt:
		case T_DropOwnedStmt:
			return (pgw_statement_info){true, CLS(GRANT) | DDL_DROP, PGW_USE_DDL};
		case T_GrantRoleStmt:
			return (pgw_statement_info){true, CLS(GRANT), PGW_USE_DDL};
		case T_VacuumStmt:
		case T_ReindexStmt:
		case T_ClusterStmt:
		case T_CheckPointStmt:
		case T_LoadStmt:
		case T_AlterSystemStmt:
			return (pgw_statement_info){true, CLS(ADMIN), PGW_USE_ADMIN};
		case T_RefreshMatViewStmt:
			return (pgw_statement_info){true, CLS(ADMIN), PGW_USE_ADMIN | PGW_USE_WRITE};
		case T_TransactionStmt:
		case T_ConstraintsSetStmt:
			return (pgw_statement_info){true, CLS(TRANSACTION), 0};
		case T_VariableShowStmt:
		case T_FetchStmt:
		case T_ClosePortalStmt:
			return (pgw_statement_info){true, CLS(SELECT), 0};
		case T_CallStmt:
			return (pgw_statement_info){true, CLS(PROCEDURAL), 0};
		case T_ListenStmt:
		case T_UnlistenStmt:
			return (pgw_statement_info){true, CLS(LISTEN), 0};
		case T_NotifyStmt:
			return (pgw_statement_info){true, CLS(NOTIFY), 0};
		case T_TruncateStmt:
			return (pgw_statement_info){true, CLS(TRUNCATE), PGW_USE_TRUNCATE | PGW_USE_WRITE};
		case T_LockStmt:
			return (pgw_statement_info){true, CLS(LOCK), PGW_USE_LOCK};
		case T_PrepareStmt:
			return (pgw_statement_info){true, CLS(PREPARE), 0};
		case T_ExecuteStmt:
			return (pgw_statement_info){true, CLS(EXECUTE), 0};
		case T_DeallocateStmt:
			return (pgw_statement_info){true, CLS(DEALLOCATE), 0};
		/* Parts of other statements, and containers whose contents carry the
		 * classes (DECLARE CURSOR runs its query). */
		case T_DeclareCursorStmt:
		case T_ReturnStmt:
		case T_PLAssignStmt:
		case T_AlterTableCmd:
		case T_ReplicaIdentityStmt:
			return (pgw_statement_info){true, 0, 0};
		default:
			return (pgw_statement_info){false, 0, 0};
	}
}
